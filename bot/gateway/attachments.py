"""Files agents attach to a reply: checked against WhatsApp's types and sizes, kept in the store, and served
under an unguessable id to whoever delivers them (Twilio fetches a reply's `MediaUrl` itself)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store
from bot.store.models import Attachment

# What WhatsApp delivers, and its caps (developers.facebook.com/docs/whatsapp/cloud-api/reference/media):
# images 5 MB, audio, video and documents 16 MB here (WhatsApp takes documents up to 100 MB, but nothing an
# agent sends needs that much).
MB = 1024 * 1024
ALLOWED = {
    "image/jpeg": 5 * MB,
    "image/png": 5 * MB,
    "application/pdf": 16 * MB,
    "audio/mpeg": 16 * MB,
    "audio/ogg": 16 * MB,
    "audio/aac": 16 * MB,
    "audio/mp4": 16 * MB,
    "audio/amr": 16 * MB,
    "video/mp4": 16 * MB,
}
# What a file's first bytes must be for its declared type (a renamed executable is not a PDF).
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/ogg": (b"OggS",),
    "audio/amr": (b"#!AMR",),
}
PATH = "/media/"


class AttachmentRefused(Exception):
    """A file WhatsApp would not take (its type or size); the message says why, in Spanish."""


@dataclass(frozen=True)
class AttachmentView:
    """A stored attachment, without its bytes."""

    id: str
    name: str
    content_type: str
    size: int

    @property
    def path(self) -> str:
        """Where it is served (relative to the public URL)."""
        return f"{PATH}{self.id}"

    def media(self) -> dict[str, Any]:
        """How a transcript line refers to it."""
        return {
            "attachment": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
        }


def check(content_type: str, data: bytes, limit: int) -> None:
    """Refuse a file WhatsApp would not deliver, one larger than the gateway's cap, or one whose bytes are
    not what its type says."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in ALLOWED:
        raise AttachmentRefused(
            "WhatsApp no admite ese tipo de archivo. Envía una imagen JPG o PNG, un PDF, un audio o un "
            "video MP4."
        )
    cap = min(ALLOWED[kind], limit)
    if not data:
        raise AttachmentRefused("El archivo está vacío.")
    if len(data) > cap:
        raise AttachmentRefused(f"El archivo supera el máximo de {cap // MB} MB para ese tipo.")
    signatures = SIGNATURES.get(kind)
    if signatures and not data.startswith(signatures):
        raise AttachmentRefused("El contenido del archivo no corresponde a su tipo.")


def clean_name(name: str) -> str:
    """A file name safe to show and to send back in a header."""
    kept = "".join(ch for ch in name if ch.isalnum() or ch in " ._-()")
    return kept.strip()[:120] or "archivo"


class Attachments:
    """Stores and reads attachments, in the store's worker thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def save(self, handoff_id: int, name: str, content_type: str, data: bytes) -> AttachmentView:
        """Keep a checked file for a hand-off."""
        kind = content_type.split(";", 1)[0].strip().lower()
        view = AttachmentView(secrets.token_hex(16), clean_name(name), kind, len(data))

        def run() -> None:
            with self._sessions.begin() as session:
                session.add(
                    Attachment(
                        id=view.id,
                        handoff_id=handoff_id,
                        name=view.name,
                        content_type=view.content_type,
                        size=view.size,
                        data=data,
                        created_at=datetime.now(UTC),
                    )
                )

        await in_store(self._sessions, run)
        return view

    async def get(self, attachment_id: str) -> tuple[AttachmentView, bytes] | None:
        """An attachment and its bytes."""

        def run() -> tuple[AttachmentView, bytes] | None:
            with self._sessions() as session:
                row = session.get(Attachment, attachment_id)
                if row is None:
                    return None
                return AttachmentView(row.id, row.name, row.content_type, row.size), bytes(row.data)

        return await in_store(self._sessions, run)
