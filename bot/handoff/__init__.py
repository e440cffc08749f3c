"""Hand-off to a human agent: when to hand off, the queue, business hours."""
