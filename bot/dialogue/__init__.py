"""Conversation repair on top of the answers: choices, digressions, corrections, repeats, cancellation,
clarification and the fallback — decided per user turn from what the NLU found and the state slots keep."""
