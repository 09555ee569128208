"""Fixtures of the hostile-input tests (defined with their helpers in robust_helpers)."""

from robust_helpers import knobs, tiny_disk

__all__ = ["knobs", "tiny_disk"]
