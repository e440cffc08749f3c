"""Language helpers on our side of the engine: entity resolution and NLU data generation."""
