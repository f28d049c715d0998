"""CRI: placeholder, filled by issue 8."""
