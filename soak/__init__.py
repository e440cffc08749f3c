"""The soak run (`python -m soak`) and the reliability harness it shares with tests/reliability."""
