"""Rasa's messages as a text-only channel sends them: plain text in parts of at most 1,600 characters,
buttons as numbered options (a typed number picks one), tables left out (their text is already there)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.answers.notices import OPTIONS_HINT
from bot.answers.reply import WHATSAPP_LIMIT

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TextReply:
    """What a text-only channel sends: messages in order."""

    texts: tuple[str, ...]


def split_text(text: str, limit: int = WHATSAPP_LIMIT) -> list[str]:
    """Split at line ends, then sentence ends, then spaces, so every part has at most `limit` characters."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        candidate = f"{current}{piece}" if current else piece.lstrip()
        if len(candidate.rstrip()) > limit and current:
            parts.append(current.rstrip())
            candidate = piece.lstrip()
        current = candidate
    if current.strip():
        parts.append(current.rstrip())
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    """Lines (with their newline); a line too long becomes sentences, a sentence too long becomes words."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        if len(line) <= limit:
            pieces.append(line)
            continue
        # Split the line without its line break, and give the break back to its last piece.
        body = line.rstrip("\r\n")
        start = len(pieces)
        for sentence in _SENTENCE_END.split(body):
            if len(sentence) + 1 <= limit:
                pieces.append(sentence + " ")
                continue
            words = sentence.split(" ")
            pieces += [w[i : i + limit - 1] + " " for w in words for i in range(0, len(w), limit - 1)]
        if len(pieces) > start and len(body) < len(line):
            pieces[-1] = pieces[-1][:-1] + "\n"
    return pieces


def for_text_channel(messages: list[dict[str, Any]], limit: int = WHATSAPP_LIMIT) -> TextReply:
    """Texts with buttons as numbered options; tables are skipped (their text is already there)."""
    texts: list[str] = []
    for message in messages:
        text = str(message.get("text") or "").strip()
        titles = [
            str(b.get("title", ""))
            for b in message.get("buttons") or []
            if isinstance(b, dict) and b.get("payload")
        ]
        if titles:
            numbered = "\n".join(f"{i}. {title}" for i, title in enumerate(titles, start=1))
            text = f"{text}\n{numbered}\n{OPTIONS_HINT}" if text else numbered
        if text:
            texts += split_text(text, limit)
    return TextReply(tuple(texts))
