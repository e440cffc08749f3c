"""Mask payment card numbers and their security codes before text reaches the engine, a log or a table."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

CVV_MASK = "[CVV oculto]"
_CARD_MASK_PREFIX = "[tarjeta terminada en "

# Every pattern below matches on the folded text (ASCII digits, spaces and dashes) and uses only
# disjoint or bounded repetitions, so matching stays linear even on 100 KB of digits and spaces.
_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")  # digit groups joined by single spaces or dashes
_GROUP = re.compile(r"[0-9]+")
_CARD_WORDS = re.compile(
    r"\b(?:tarjetas?|cards?|visa|master\s?card|amex|american\s+express|vence|vencimiento|"
    r"cvv2?|cvc2?|csc|c[oó]digo\s+de\s+seguridad)\b",
    re.IGNORECASE,
)
_CVV_AFTER_KEYWORD = re.compile(
    r"\b(?:cvv2?|cvc2?|csc|c[oó]d(?:igo|\.)?(?:\s+de)?\s+seg(?:uridad)?\.?|c[oó]digo|seguridad|seg\.?|"
    r"security\s+code)"
    r"[^\w\n]{0,3}(?:(?:es|is)[^\w\n]{1,3})?"
    r"(?P<code>[0-9]{3,4})(?![0-9])",
    re.IGNORECASE,
)
# A bare code right after a masked card, optionally with the expiry in between ("…1111 12/27 123").
_CVV_AFTER_CARD = re.compile(
    re.escape(_CARD_MASK_PREFIX) + r"[0-9]{4}\]"
    r"(?:[\s,;:|-]{1,3}(?:(?:vence|vto|exp)\.?\s*)?(?:0?[1-9]|1[0-2])\s?[/-]\s?(?:20)?[0-9]{2})?"
    r"[\s,;:|-]{1,3}(?P<code>[0-9]{3,4})(?![0-9/])",
    re.IGNORECASE,
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: the digit sum of 2*d


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text and what was masked (never the original, so it cannot leak by accident)."""

    text: str
    cards: int
    cvv: bool


def redact(text: str) -> Redaction:
    """Mask Luhn-valid card numbers (keeping the last 4 digits) and CVV-like codes given with card data."""
    text = unicodedata.normalize("NFC", text)  # composed accents, so "código" matches however it was typed
    text, cards = _mask_cards(text)
    codes = 0
    if cards or _CARD_WORDS.search(_fold(text)):
        text, after_card = _mask_codes(_CVV_AFTER_CARD, text)
        text, after_keyword = _mask_codes(_CVV_AFTER_KEYWORD, text)
        codes = after_card + after_keyword
    return Redaction(text, cards, codes > 0)


def contains_card_data(text: str) -> bool:
    """Whether `text` holds a card number or a security code given with card data."""
    found = redact(text)
    return found.cards > 0 or found.cvv


_CARD_DIGITS = re.compile(r"[0-9](?:[ -]?[0-9]){2,18}")


def mentions_card_data(text: str) -> bool:
    """Whether `text` plausibly carries card data: a Luhn-valid 13–19 digit number, one already masked,
    a security code, or card words beside three or more digits. A bare short number or a contract
    number ("2", "ZCC-100002") is not card data."""
    if _CARD_MASK_PREFIX in text or CVV_MASK in text or contains_card_data(text):
        return True
    folded = _fold(text)
    if not _CARD_WORDS.search(folded):
        return False
    without_contracts = re.sub(r"(?i)zcc[\s-]*[0-9]+", " ", folded)
    return bool(_CARD_DIGITS.search(without_contracts))


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """One character for matching: any Unicode digit, space or dash as its ASCII form, else itself."""
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    if char in _DASHES:
        return "-"
    if unicodedata.category(char) == "Zs":
        return " "
    folded = unicodedata.normalize("NFKC", char)  # fullwidth letters, so "ＣＶＶ" reads as "CVV"
    return folded if len(folded) == 1 and folded.isascii() else char


def _fold(text: str) -> str:
    """A same-length view of `text` to match on, so match offsets index the original text."""
    return _NON_ASCII.sub(lambda m: _fold_char(m.group()), text)


def _mask_cards(text: str) -> tuple[str, int]:
    """Replace every card number found in a run of digit groups with its mask."""
    pieces: list[str] = []
    done, cards = 0, 0
    for run in _RUN.finditer(_fold(text)):
        for start, end, last4 in _card_spans(run.group()):
            pieces += [text[done : run.start() + start], f"{_CARD_MASK_PREFIX}{last4}]"]
            done, cards = run.start() + end, cards + 1
    pieces.append(text[done:])
    return "".join(pieces), cards


def _card_spans(run: str) -> list[tuple[int, int, str]]:
    """(start, end, last 4 digits) of the Luhn-valid 13–19 digit windows of whole groups in `run`."""
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    digits = "".join(run[a:b] for a, b in groups)
    offsets = [0]  # offsets[i]: digits before group i
    for a, b in groups:
        offsets.append(offsets[-1] + b - a)
    # Luhn sums by prefix: even[k] doubles odd indices below k, odd[k] doubles even ones; O(1) per window.
    even, odd = [0], [0]
    for i, char in enumerate(digits):
        plain, doubled = int(char), _DOUBLED[int(char)]
        even.append(even[-1] + (doubled if i % 2 else plain))
        odd.append(odd[-1] + (plain if i % 2 else doubled))

    def valid(i: int, j: int) -> bool:
        a, b = offsets[i], offsets[j]
        sums = even if (b - 1) % 2 == 0 else odd  # the rightmost digit is never doubled
        return 13 <= b - a <= 19 and (sums[b] - sums[a]) % 10 == 0

    def span(i: int, j: int) -> tuple[int, int, str]:
        return groups[i][0], groups[j - 1][1], digits[offsets[j] - 4 : offsets[j]]

    if valid(0, len(groups)):  # the usual case: the whole run is the card
        return [span(0, len(groups))]
    # Otherwise the card sits beside other numbers: take the leftmost, then shortest, valid window.
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(groups):
        j = i + 1
        while j <= len(groups) and offsets[j] - offsets[i] <= 19 and not valid(i, j):
            j += 1
        if j <= len(groups) and offsets[j] - offsets[i] <= 19:
            spans.append(span(i, j))
            i = j
        else:
            i += 1
    return spans


def _mask_codes(pattern: re.Pattern[str], text: str) -> tuple[str, int]:
    """Replace the `code` group of every match of `pattern` with the CVV mask."""
    pieces: list[str] = []
    done, count = 0, 0
    for match in pattern.finditer(_fold(text)):
        pieces += [text[done : match.start("code")], CVV_MASK]
        done, count = match.end("code"), count + 1
    pieces.append(text[done:])
    return "".join(pieces), count
