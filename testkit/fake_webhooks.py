"""What the fake Twilio posts to the gateway: status callbacks and incoming WhatsApp messages, signed as
Twilio signs them (X-Twilio-Signature over the public URL Twilio was given and the form fields).

The public URL is not reachable in a test, so each post goes to a local base URL plus the public URL's path
(query kept), signed for the public URL.

Status callback fields, as Twilio posts them for WhatsApp (payloads captured from Twilio in public
projects: "SmsSid, SmsStatus, MessageStatus, ChannelToAddress=+91848951XXXX, To=whatsapp:+918489514086,
ChannelPrefix=whatsapp, MessageSid, AccountSid, StructuredMessage=false (on sent), From, ApiVersion,
ChannelInstallSid=XE…", EventType=DELIVERED / READ on those; ErrorCode when failed or undelivered:
https://www.twilio.com/docs/guides/how-to-confirm-delivery-in-node-js). ChannelToAddress is the recipient
with its last four digits masked. Whether Twilio adds ErrorMessage is unconfirmed: the fake does not.

Incoming message fields (https://www.twilio.com/docs/messaging/guides/webhook-request and captured
payloads): MessageSid, SmsMessageSid, SmsSid, AccountSid, From, To, Body, NumMedia, NumSegments,
ReferralNumMedia, SmsStatus=received, ApiVersion, ProfileName, WaId, MessageType; MediaUrl{i} and
MediaContentType{i}; ButtonText and ButtonPayload for a quick-reply tap (MessageType=button); ListId and
ListTitle for a list-picker choice (MessageType=interactive; these two names are what public integrations
read, not found in Twilio's own docs); OriginalRepliedMessageSid/Sender for a reply to one of ours;
Latitude, Longitude (Address, Label) for a location. Twilio may add fields at any time: the gateway must
validate the signature over all of them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from testkit.signing import twilio_signature
from testkit.twilio_api import API_VERSION

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
FAILED_STATES = ("failed", "undelivered")


@dataclass
class Post:
    """One request the fake made to the gateway (`kind`: "status" or "inbound")."""

    kind: str
    sid: str
    url: str  # the public URL Twilio would have posted to, which the signature covers
    posted_to: str  # where the fake posted it
    form: dict[str, str]
    status: int | None = None  # the gateway's answer; None when it could not be reached
    error: str | None = None
    at: float = field(default_factory=time.monotonic)


def local_target(public_url: str, local_base: str) -> str:
    """Where a post to `public_url` goes in a test: the local base, the same path and query."""
    parts = urlsplit(public_url)
    return local_base.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def masked(address: str) -> str:
    """ChannelToAddress: the number without its channel prefix, last four digits masked."""
    number = address.split(":", 1)[-1]
    return number[:-4] + "XXXX" if len(number) > 4 else number


def status_form(
    *,
    account: str,
    sid: str,
    to: str,
    from_: str,
    status: str,
    channel_install: str,
    error_code: int | None = None,
    structured: bool = False,
    service: str | None = None,
) -> dict[str, str]:
    """A status callback's form fields."""
    form = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "ChannelToAddress": masked(to),
        "To": to,
        "ChannelPrefix": to.split(":", 1)[0] if ":" in to else "whatsapp",
        "MessageSid": sid,
        "AccountSid": account,
        "From": from_,
        "ApiVersion": API_VERSION,
        "ChannelInstallSid": channel_install,
    }
    if status == "sent":
        form["StructuredMessage"] = "true" if structured else "false"
    if status in ("delivered", "read"):
        form["EventType"] = status.upper()
    if status in FAILED_STATES and error_code is not None:
        form["ErrorCode"] = str(error_code)
    if service:
        form["MessagingServiceSid"] = service
    return form


def message_type(media_types: list[str], *, button: bool, list_item: bool, location: bool) -> str:
    """MessageType of an incoming WhatsApp message."""
    if button:
        return "button"
    if list_item:
        return "interactive"
    if location:
        return "location"
    if media_types:
        major = media_types[0].split("/", 1)[0]
        return major if major in ("image", "video", "audio") else "document"
    return "text"


async def post_signed(post: Post, auth_token: str, timeout: float = 10.0) -> None:
    """POST the form to `post.posted_to`, signed for `post.url`; record the answer in `post`."""
    headers = {
        "X-Twilio-Signature": twilio_signature(auth_token, post.url, post.form),
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "User-Agent": "TwilioProxy/1.1",
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(post.posted_to, data=post.form, headers=headers) as answer,
        ):
            await answer.read()
            post.status = answer.status
    except (aiohttp.ClientError, TimeoutError) as problem:
        post.error = f"{type(problem).__name__}: {problem}"
