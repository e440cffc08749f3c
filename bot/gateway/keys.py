"""Typed keys of the resources the gateway application holds."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.attachments import Attachments
from bot.gateway.channels import Channels
from bot.gateway.contacts import Contacts
from bot.gateway.deliveries import Deliveries
from bot.gateway.handoffs import Handoffs
from bot.gateway.insights_reader import InsightsReader
from bot.gateway.metrics_server import MetricsServer
from bot.gateway.pipeline import Pipeline
from bot.gateway.review_desk import ReviewDesk
from bot.gateway.users import Users
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CHANNELS = web.AppKey("channels", Channels)
HANDOFFS = web.AppKey("handoffs", Handoffs)
USERS = web.AppKey("users", Users)
CONTACTS = web.AppKey("contacts", Contacts)
DELIVERIES = web.AppKey("deliveries", Deliveries)
ATTACHMENTS = web.AppKey("attachments", Attachments)
PIPELINE = web.AppKey("pipeline", Pipeline)
# The operator metrics' own server (None when METRICS_PORT=0).
METRICS_SERVER: web.AppKey[MetricsServer | None] = web.AppKey("metrics_server")
INSIGHTS = web.AppKey("insights", InsightsReader)
REVIEW = web.AppKey("review", ReviewDesk)
