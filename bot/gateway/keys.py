"""Typed keys of the resources the gateway application holds."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.handoffs import Handoffs
from bot.gateway.pipeline import Pipeline
from bot.gateway.statuses import DeliveryStatuses
from bot.gateway.users import Users
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
HANDOFFS = web.AppKey("handoffs", Handoffs)
USERS = web.AppKey("users", Users)
DELIVERY_STATUSES = web.AppKey("delivery_statuses", DeliveryStatuses)
PIPELINE = web.AppKey("pipeline", Pipeline)
