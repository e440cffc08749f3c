"""HTTP gateway between the messaging channels and the engine."""
