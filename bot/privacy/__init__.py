"""Privacy: card data recognised and masked wherever text enters the system."""
