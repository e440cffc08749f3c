"""The channels a standard gateway serves: the one place a new channel is registered."""

from __future__ import annotations

from bot.gateway.channels import Channel
from bot.gateway.channels.webchat import WebchatChannel
from bot.gateway.channels.whatsapp import WhatsAppChannel
from bot.settings import Settings


def default_channels(settings: Settings) -> list[Channel]:
    """The webchat always, WhatsApp when Twilio is configured."""
    channels: list[Channel] = [WebchatChannel(settings)]
    if settings.twilio_enabled:
        channels.append(WhatsAppChannel(settings))
    return channels
