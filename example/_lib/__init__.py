"""Helpers for the demo pages. Private: importable, never served."""
