"""Conversational account assistant: catalogue, store, answers and gateway."""
