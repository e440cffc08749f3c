"""The fake Twilio's media: files customers send (MediaUrl{i} of an incoming webhook), served as Twilio serves
them, and the checks WhatsApp makes on the media a business sends.

Twilio's media URL is https://api.twilio.com/2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}; the fake
serves that path (through its base URL). With HTTP Basic auth for media on (Twilio now enforces it for all
media URLs, https://www.twilio.com/docs/messaging/api/media-resource) a request without the account's
credentials gets a 401; with them, Twilio answers 307 Temporary Redirect to a short-lived CDN URL
(media.twiliocdn.com) that serves the bytes without credentials (observed in codeforamerica/vita-min#563).
The fake does the same with a /cdn/{token} URL of its own (`media_redirect = False` serves the bytes at
once). `{ME}.json` is the Media resource; `{MM}/Media.json` lists a message's media.

Outbound media (MediaUrl on create), per https://www.twilio.com/docs/whatsapp/guidance-whatsapp-media-messages:
up to 16 MB a message and 5 MB an image, of the types listed in WHATSAPP_TYPES. The fake cannot fetch a
public URL: it checks media it serves itself or declared with `FakeTwilio.declare_media(url, type, size)`,
and the type a URL's file extension tells (EXTENSIONS: ".gif" is image/gif, refused); any other URL is
accepted. A refused file fails the message later, as the window does: 63021 for a type WhatsApp does not
take (https://www.twilio.com/docs/api/errors/63021), 11751 for a file over the size limit
(https://www.twilio.com/docs/api/errors/11751).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from testkit.twilio_api import API_VERSION, error_response, new_sid, not_found_response, page_size, rfc2822

TWILIO_API = "https://api.twilio.com"
IMAGE_LIMIT, MEDIA_LIMIT = 5 * 1024 * 1024, 16 * 1024 * 1024
WHATSAPP_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/ogg",
        "audio/amr",
        "audio/3gpp",
        "audio/aac",
        "audio/mpeg",
        "video/mp4",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/vcard",
        "text/x-vcard",
    }
)

# The type a file name's extension tells, for the outbound checks (the fake fetches nothing).
EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".ogg": "audio/ogg",
    ".amr": "audio/amr",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".vcf": "text/vcard",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".html": "text/html",
    ".zip": "application/zip",
}


def whatsapp_refusal(content_type: str, size: int) -> tuple[int, str] | None:
    """The error a WhatsApp message with this file fails with (code, message), or None."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in WHATSAPP_TYPES:
        return 63021, f"Channel invalid content error: {kind or 'unknown type'} is not supported by WhatsApp"
    if size > MEDIA_LIMIT or (kind.startswith("image/") and size > IMAGE_LIMIT):
        return 11751, "Media Message - Media exceeds messaging provider size limit"
    return None


@dataclass(frozen=True)
class Media:
    """One stored media file."""

    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    data: bytes
    created: datetime

    @property
    def path(self) -> str:
        """Its path on Twilio's API (what the fake serves)."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.message_sid}/Media/{self.sid}"

    @property
    def url(self) -> str:
        """Its URL as Twilio gives it in a webhook's MediaUrl{i}."""
        return TWILIO_API + self.path

    def json(self) -> dict[str, Any]:
        """The Media resource."""
        stamp = rfc2822(self.created)
        return {
            "account_sid": self.account_sid,
            "content_type": self.content_type,
            "date_created": stamp,
            "date_updated": stamp,
            "parent_sid": self.message_sid,
            "sid": self.sid,
            "uri": self.path + ".json",
        }


@dataclass
class MediaFetch:
    """One GET of a media file's bytes: on Twilio's path (`authorized`: whether it carried the account's
    credentials) or on the CDN URL it redirects to (`cdn`)."""

    path: str
    media_sid: str | None
    authorized: bool
    cdn: bool
    status: int
    at: float = field(default_factory=time.monotonic)


class MediaStore:
    """The media the fake serves, and what was fetched (thread-safe)."""

    def __init__(self, account_sid: str, now: Callable[[], datetime]) -> None:
        self.account_sid = account_sid
        self.redirect = True
        self._now = now
        self._lock = threading.RLock()
        self._media: dict[str, Media] = {}
        self._cdn: dict[str, str] = {}  # token → media SID
        self._declared: dict[str, tuple[str, int]] = {}  # URL → (content type, size)
        self.fetches: list[MediaFetch] = []

    def add(self, content_type: str, data: bytes, message_sid: str | None = None) -> Media:
        """Store a file (of a new message with media, 'MM…', unless `message_sid` is given)."""
        media = Media(
            new_sid("ME"), self.account_sid, message_sid or new_sid("MM"), content_type, data, self._now()
        )
        with self._lock:
            self._media[media.sid] = media
        return media

    def declare(self, url: str, content_type: str, size: int) -> None:
        """What a URL the fake cannot fetch serves (for the outbound checks)."""
        with self._lock:
            self._declared[url] = (content_type, size)

    def described(self, url: str) -> tuple[str, int] | None:
        """The content type and size behind an outbound MediaUrl, if the fake knows them: declared, served
        by the fake, or (type only) told by the file name's extension."""
        with self._lock:
            if url in self._declared:
                return self._declared[url]
            for media in self._media.values():
                if url.endswith(media.path):
                    return media.content_type, len(media.data)
        extension = PurePosixPath(urlsplit(url).path).suffix.lower()
        return (EXTENSIONS[extension], 0) if extension in EXTENSIONS else None

    def of_message(self, message_sid: str) -> list[Media]:
        """A message's media, in the order they were added."""
        with self._lock:
            return [m for m in self._media.values() if m.message_sid == message_sid]

    def fetched(self) -> list[MediaFetch]:
        """Every GET of a media file's bytes, in order."""
        with self._lock:
            return list(self.fetches)

    def _record(self, fetch: MediaFetch) -> None:
        with self._lock:
            self.fetches.append(fetch)

    # --- the HTTP API ---------------------------------------------------------------------------------
    def add_routes(self, app: web.Application, authorized: Callable[[web.Request], bool]) -> None:
        """Serve the Media resources, the media files and the CDN redirect target on `app`."""
        base = f"/{API_VERSION}/Accounts/{{sid}}/Messages/{{message}}/Media"
        app.router.add_get(base + ".json", self._handler(self._list, authorized))
        app.router.add_get(base + "/{media}", self._handler(self._file, authorized))
        app.router.add_get("/cdn/{token}", self._cdn_file)

    def _handler(
        self,
        serve: Callable[[web.Request, bool], Awaitable[web.StreamResponse]],
        authorized: Callable[[web.Request], bool],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await serve(request, authorized(request) and request.match_info["sid"] == self.account_sid)

        return handle

    async def _list(self, request: web.Request, ok: bool) -> web.Response:
        if not ok:
            return error_response(401, 20003, "Authenticate")
        message, size = request.match_info["message"], page_size(request)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message}/Media.json"
        found = [m.json() for m in self.of_message(message)]
        page = {"media_list": found[:size], "first_page_uri": uri, "next_page_uri": None, "page": 0}
        page |= {"page_size": size, "previous_page_uri": None, "start": 0, "uri": uri}
        return web.json_response(page | {"end": max(0, min(len(found), size) - 1)})

    async def _file(self, request: web.Request, ok: bool) -> web.Response:
        name = request.match_info["media"]
        with self._lock:
            media = self._media.get(name.removesuffix(".json"))
        if name.endswith(".json"):  # the Media resource
            if not ok:
                return error_response(401, 20003, "Authenticate")
            if media is None or media.message_sid != request.match_info["message"]:
                return not_found_response(request.path)
            return web.json_response(media.json())
        sid = media.sid if media else None
        if not ok:
            self._record(MediaFetch(request.path, sid, False, False, 401))
            return error_response(401, 20003, "Authenticate")
        if media is None or media.message_sid != request.match_info["message"]:
            self._record(MediaFetch(request.path, sid, True, False, 404))
            return not_found_response(request.path)
        if not self.redirect:
            self._record(MediaFetch(request.path, sid, True, False, 200))
            return web.Response(body=media.data, headers={"Content-Type": media.content_type})
        token = secrets.token_hex(16)
        with self._lock:
            self._cdn[token] = media.sid
        self._record(MediaFetch(request.path, sid, True, False, 307))
        location = f"{request.scheme}://{request.host}/cdn/{token}"
        return web.Response(status=307, headers={"Location": location}, content_type="application/xml")

    async def _cdn_file(self, request: web.Request) -> web.Response:
        with self._lock:
            sid = self._cdn.get(request.match_info["token"])
            media = self._media.get(sid) if sid else None
        if media is None:
            self._record(MediaFetch(request.path, None, False, True, 404))
            return web.Response(status=404)
        self._record(MediaFetch(request.path, media.sid, False, True, 200))
        return web.Response(body=media.data, headers={"Content-Type": media.content_type})
