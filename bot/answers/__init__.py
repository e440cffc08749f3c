"""Answers built from the catalogue: pure functions from a question to a reply."""
