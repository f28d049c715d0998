"""Typed Kubernetes API objects: placeholder, filled by issue 5."""
