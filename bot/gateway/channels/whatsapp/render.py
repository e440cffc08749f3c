"""The engine's replies as WhatsApp shows them: options as buttons to tap (`twilio/quick-reply`, up to three)
or a list to pick from (`twilio/list-picker`, up to ten), with the numbered text as the plain fallback (sent
beyond ten options, and whenever the rich form is refused). A tap comes back as the option's payload; a
typed number picks the same option.

Limits from Twilio's Content API docs (content-types/quick-reply, content-types/list-picker): quick-reply
titles 20 characters, list items 24, descriptions 72, the list's button 20, ids 200, bodies 1,024.
"""

from __future__ import annotations

from typing import Any

from bot.answers.notices import CHOOSE, LIST_BUTTON
from bot.gateway.channels import Rendered
from bot.gateway.render import for_text_channel

QUICK_REPLY, LIST_PICKER = "twilio/quick-reply", "twilio/list-picker"
MAX_BUTTONS, MAX_ITEMS = 3, 10
BUTTON_TITLE, ITEM_TITLE, ITEM_DESCRIPTION, LIST_BUTTON_TITLE = 20, 24, 72, 20
MAX_ID, MAX_BODY = 200, 1024
ELLIPSIS = "…"

Option = tuple[str, str]  # title, payload


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters: cut at a word (keeping at least half of it) with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def _options(message: dict[str, Any]) -> list[Option]:
    options = []
    for button in message.get("buttons") or []:
        if isinstance(button, dict) and button.get("payload"):
            title = str(button.get("title") or button["payload"]).strip()
            options.append((title, str(button["payload"])))
    return options


def _ids(options: list[Option]) -> list[str]:
    """What a tap sends back: the payload, or the option's number when the payload is too long for an id
    (a typed number picks the same option)."""
    return [payload if len(payload) <= MAX_ID else str(n) for n, (_, payload) in enumerate(options, 1)]


def rich_options(text: str, options: list[Option]) -> dict[str, Any] | None:
    """The content definition offering these options to tap, or None when they do not fit one."""
    body = text.strip() or CHOOSE
    if not options or len(options) > MAX_ITEMS or len(body) > MAX_BODY:
        return None
    ids = _ids(options)
    if len(options) <= MAX_BUTTONS and all(len(title) <= BUTTON_TITLE for title, _ in options):
        actions = [{"title": title, "id": id_} for (title, _), id_ in zip(options, ids, strict=True)]
        return {"types": {QUICK_REPLY: {"body": body, "actions": actions}}}
    items = []
    seen: set[str] = set()
    for number, ((title, _), id_) in enumerate(zip(options, ids, strict=True), 1):
        item = shorten(title, ITEM_TITLE)
        if item in seen:  # two titles alike once shortened: their numbers tell them apart
            item = shorten(f"{number}. {title}", ITEM_TITLE)
        seen.add(item)
        entry = {"item": item, "id": id_}
        if item != title:
            entry["description"] = shorten(title, ITEM_DESCRIPTION)
        items.append(entry)
    button = shorten(LIST_BUTTON, LIST_BUTTON_TITLE)
    return {"types": {LIST_PICKER: {"body": body, "button": button, "items": items}}}


def render(replies: list[dict[str, Any]]) -> Rendered:
    """Each reply's text parts; a reply with options also carries them to tap on its (single) part."""
    texts: list[str] = []
    contents: list[dict[str, Any] | None] = []
    for message in replies:
        plain = list(for_text_channel([message]).texts)
        options = _options(message)
        rich = rich_options(str(message.get("text") or ""), options) if len(plain) == 1 else None
        texts += plain
        contents += [rich] if plain and rich is not None else [None] * len(plain)
    return Rendered(tuple(texts), tuple(contents))
