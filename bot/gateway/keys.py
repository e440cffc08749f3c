"""Typed keys of the resources the gateway application holds."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.handoffs import Handoffs
from bot.gateway.service import Conversations
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CONVERSATIONS = web.AppKey("conversations", Conversations)
HANDOFFS = web.AppKey("handoffs", Handoffs)
