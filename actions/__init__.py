"""Rasa custom actions: thin adapters from the dialogue to `bot.answers` and the store."""
