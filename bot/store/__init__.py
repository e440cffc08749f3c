"""The store: SQLAlchemy models, sessions, seeding and queries."""
