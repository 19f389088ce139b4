"""Serving: the in-memory state of a workspace and the ribbons built from it."""
