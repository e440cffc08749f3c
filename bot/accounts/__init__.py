"""Accounts as the dialogue sees them: verified identity, authorization and read-only views."""
