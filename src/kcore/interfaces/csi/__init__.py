"""CSI: placeholder, filled by issue 8."""
