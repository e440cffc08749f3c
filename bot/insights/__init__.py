"""Insights for the support team: how much the assistant contains, what it misses, why and how long
customers wait for a person, and how satisfied they were — each figure defined once (`figures`), computed
from the store with SQL that runs on SQLite and PostgreSQL alike."""
