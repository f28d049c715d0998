"""CNI: placeholder, filled by issue 8."""
