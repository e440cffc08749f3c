"""The plan catalogue: typed models, the YAML source and its loader."""

from bot.catalogue.models import Catalogue, Channel, Feature, Plan, PlanValue

__all__ = ["Catalogue", "Channel", "Feature", "Plan", "PlanValue"]
