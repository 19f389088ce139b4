"""Profiles: implicit interests from behaviour, kept apart from what users state, and the
edits users make to their own."""
