"""Rendering the engine's messages for WhatsApp: splitting long texts, numbered options, picking one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.gateway.render import WHATSAPP_LIMIT, for_text_channel, split_text

OPTIONS = [
    {"title": "Básico", "payload": "/elegir_plan{basico}"},
    {"title": "Profesional", "payload": "/elegir_plan{profesional}"},
    {"title": "Enterprise", "payload": "/elegir_plan{enterprise}"},
]


def words(text: str) -> str:
    """The text without any whitespace (what splitting must keep, in order)."""
    return "".join(text.split())


# --- split_text -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", " ", "\n\n  \t"])
def test_nothing_to_send_gives_no_parts(text: str) -> None:
    assert split_text(text) == []


def test_a_text_of_exactly_the_limit_is_one_part() -> None:
    text = "a" * (WHATSAPP_LIMIT - 10) + " fin." + "b" * 5
    assert len(text) == WHATSAPP_LIMIT
    assert split_text(text) == [text]
    assert split_text("  " + text + "\n") == [text]  # surrounding whitespace does not count


def test_one_character_over_the_limit_gives_two_parts() -> None:
    text = "Primera frase. " + "x" * (WHATSAPP_LIMIT - 15) + "y"
    assert len(text) == WHATSAPP_LIMIT + 1
    parts = split_text(text)
    assert len(parts) == 2
    assert all(0 < len(p) <= WHATSAPP_LIMIT for p in parts)
    assert words("".join(parts)) == words(text)


def test_lines_are_kept_whole_and_in_order() -> None:
    lines = [f"{i:02d}. " + "línea con detalles del plan " * 3 for i in range(60)]
    text = "\n".join(line.strip() for line in lines)
    assert len(text) > 2 * WHATSAPP_LIMIT
    parts = split_text(text)
    assert len(parts) == -(-len(text) // WHATSAPP_LIMIT)  # as few parts as whole lines allow here
    assert all(len(p) <= WHATSAPP_LIMIT for p in parts)
    # Every cut is at a line end: the parts joined by line breaks are the text.
    assert "\n".join(parts) == text


def test_a_long_line_is_cut_at_sentence_ends() -> None:
    sentence = "El plan Profesional incluye canales de WhatsApp y correo."
    text = " ".join([sentence] * 80)
    parts = split_text(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= WHATSAPP_LIMIT
        assert part.startswith("El plan") and part.endswith("correo.")
    assert " ".join(parts) == text


def test_a_long_line_keeps_its_line_break_before_the_next_line() -> None:
    first = " ".join(["Una frase larga del primer párrafo."] * 60)
    text = f"{first}\nSegundo párrafo.\nTercero."
    parts = split_text(text)
    assert parts[-1].endswith("\nSegundo párrafo.\nTercero.")
    assert not any(p.startswith(" ") or "\n " in p or " \n" in p for p in parts)
    assert words("".join(parts)) == words(text)


def test_a_word_longer_than_the_limit_is_cut() -> None:
    text = "https://example.com/" + "x" * (2 * WHATSAPP_LIMIT)
    parts = split_text(text)
    assert len(parts) == 3
    assert all(0 < len(p) <= WHATSAPP_LIMIT for p in parts)
    assert "".join(parts) == text


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from([*"ab .!?\n\t", "ñ", "é"]), max_size=600), st.integers(5, 80))
def test_parts_are_never_empty_never_over_the_limit_and_keep_every_word(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(p and p == p.strip() for p in parts)
    assert all(len(p) <= limit for p in parts)
    assert words("".join(parts)) == words(text)


# --- for_text_channel -----------------------------------------------------------------------------------
def test_buttons_become_numbered_options() -> None:
    reply = for_text_channel(
        [
            {"recipient_id": "wa:+1", "text": "¿Qué plan te interesa?", "buttons": OPTIONS},
            {"recipient_id": "wa:+1", "custom": {"table": {"rows": [["Básico", "10"]]}}},
        ]
    )
    assert reply.texts == (
        "¿Qué plan te interesa?\n1. Básico\n2. Profesional\n3. Enterprise\n"
        "Responde con el número de la opción.",
    )


def test_buttons_without_text_and_buttons_without_payload() -> None:
    reply = for_text_channel([{"buttons": [{"title": "Sin payload"}, OPTIONS[1], "no es un botón"]}])
    assert reply.texts == ("1. Profesional",)


def test_texts_keep_their_order_each_with_its_own_options() -> None:
    reply = for_text_channel(
        [
            {"text": "Primero", "buttons": OPTIONS[:1]},
            {"text": "  "},
            {"image": "https://example.com/a.png"},
            {"text": "Segundo", "buttons": OPTIONS[1:]},
            {"text": "Tercero"},
        ]
    )
    assert [t.split("\n")[0] for t in reply.texts] == ["Primero", "Segundo", "Tercero"]
    assert reply.texts[1].startswith("Segundo\n1. Profesional\n2. Enterprise")


def test_a_long_message_is_split_for_the_channel() -> None:
    text = "\n".join(["Una línea de la respuesta larga."] * 150)
    reply = for_text_channel([{"text": text}])
    assert len(reply.texts) > 1
    assert all(len(t) <= WHATSAPP_LIMIT for t in reply.texts)
    assert "\n".join(reply.texts) == text
