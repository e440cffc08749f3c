"""Files customers send on WhatsApp: Twilio keeps them behind the account's credentials
(`MediaUrl{i}` in the webhook). Only URLs of our own account's media on Twilio's API are kept, and the
gateway fetches them for agents itself, so neither the credentials nor Twilio's URLs reach a browser."""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.gateway.channels import MediaRefused

TWILIO_API = "https://api.twilio.com"
# What an agent's browser may be shown (the console previews images, plays audio and video, opens PDFs).
SHOWN = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
    "audio/ogg",
    "audio/mpeg",
    "audio/amr",
    "audio/aac",
    "audio/mp4",
    "video/mp4",
    "video/3gpp",
}
MAX_REDIRECTS = 3


def media_path(url: str, account_sid: str) -> str | None:
    """The path of a webhook's media URL when it is one of this account's media on Twilio's API; None
    for anything else (a forged field pointing the gateway at another server)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.netloc != "api.twilio.com" or parts.query or parts.fragment:
        return None
    pattern = (
        rf"^/2010-04-01/Accounts/{re.escape(account_sid)}/Messages/MM[0-9a-f]{{32}}/Media/ME[0-9a-f]{{32}}$"
    )
    return parts.path if re.fullmatch(pattern, parts.path) else None


class MediaFetcher:
    """Fetches a customer's file from Twilio with the account's credentials, within a size cap."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str | None, max_bytes: int) -> None:
        self._account_sid = account_sid
        self._auth = aiohttp.BasicAuth(account_sid, auth_token)
        self._base = (api_base or TWILIO_API).rstrip("/")
        self._max_bytes = max_bytes
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """The HTTP client (redirects followed by hand: the credentials go to Twilio only)."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.close()
        self._http = None

    async def fetch(self, url: str) -> tuple[str, bytes]:
        """(content type, bytes) of one of our account's media URLs."""
        path = media_path(url, self._account_sid)
        if path is None or self._http is None:
            raise MediaRefused("Ese archivo no pertenece a esta cuenta de WhatsApp.")
        target, auth = self._base + path, cast(aiohttp.BasicAuth | None, self._auth)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._http.get(target, auth=auth, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    # Twilio answers with a short-lived signed URL elsewhere: no credentials there.
                    target, auth = urljoin(target, response.headers["Location"]), None
                    continue
                if response.status != 200:
                    raise MediaRefused(f"Twilio no entregó el archivo (HTTP {response.status}).")
                kind = response.content_type.lower()
                if kind not in SHOWN:
                    raise MediaRefused(f"Ese tipo de archivo ({kind}) no se puede mostrar en la consola.")
                if (response.content_length or 0) > self._max_bytes:
                    raise MediaRefused("El archivo es demasiado grande para mostrarlo.")
                chunks, size = [], 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise MediaRefused("El archivo es demasiado grande para mostrarlo.")
                    chunks.append(chunk)
                return kind, b"".join(chunks)
        raise MediaRefused("Twilio redirigió demasiadas veces.")
