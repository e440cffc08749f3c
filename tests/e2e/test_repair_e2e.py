"""Conversation repair through the real gateway: Ana's scenario of issue #12 over the webchat API (printed
as a transcript), and choices, digressions and cancellation over WhatsApp through the fake Twilio."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import E2EStack, text_of
from tests.e2e.test_card_numbers_e2e import ANA, chat, token
from tests.e2e.test_whatsapp import WhatsApp

pytestmark = pytest.mark.e2e

FALLBACK = "no estoy seguro de haber entendido"


def custom_types(replies: list[dict[str, Any]]) -> list[str]:
    return [str(r["custom"].get("type")) for r in replies if isinstance(r.get("custom"), dict)]


def test_anas_scenario_through_the_webchat(stack: E2EStack) -> None:
    ana = token(stack, ANA)
    chat(stack, "cancelar", ana)  # whatever an earlier test left pending
    transcript: list[str] = []

    def say(text: str) -> list[dict[str, Any]]:
        replies = chat(stack, text, ana)
        transcript.append(f"Ana: {text}")
        for reply in replies:
            if reply.get("text"):
                buttons = " | ".join(b["title"] for b in reply.get("buttons") or [])
                transcript.append(f"Asistente: {reply['text']}" + (f"\n  [{buttons}]" if buttons else ""))
        texts = [r.get("text") for r in replies if r.get("text")]
        assert len(texts) == len(set(texts)), "a message repeated within the turn"
        assert FALLBACK not in text_of(replies) and "handoff" not in custom_types(replies), replies
        return replies

    first = say("¿cuánto debo pagar y cuándo?")
    assert "¿De cuál contrato quieres ver los pagos?" in text_of(first)
    second = say("¿dónde encuentro mis facturas?")
    assert "¿De cuál contrato quieres ver los invoices?" in text_of(second)
    assert len([r for r in second if r.get("text")]) == 1
    third = say("2")
    assert "Invoices del contrato ZCC-100002" in text_of(third) and "no compartas" not in text_of(third)
    fourth = say("me equivoqué, el otro")
    assert "¿Cuál de estos?" in text_of(fourth)
    assert "Invoices del contrato ZCC-100003" in text_of(say("la última"))
    say("¿cuánto debo pagar y cuándo?")
    assert "Información financiera del contrato ZCC-100002" in text_of(say("el segundo"))
    assert "Información financiera del contrato ZCC-100001" in text_of(say("perdón, el ZCC-100001"))
    say("mis facturas")
    digression = text_of(say("¿cuántos usuarios trae el Expert?"))
    assert "30 usuarios" in digression and "Sobre tu pregunta anterior" in digression
    assert "dejamos esa elección" in text_of(say("cancelar"))
    assert "Usuarios en el plan Expert" in text_of(say("¿me lo repites?"))
    print("\n" + "\n".join(transcript))


def test_choices_digressions_and_cancel_over_whatsapp(stack: E2EStack) -> None:
    whatsapp = WhatsApp(stack)
    sender = f"whatsapp:+52155{uuid.uuid4().int % 10**8:08d}"  # a number no user has: anonymous
    offered = " ".join(m.shown() for m in whatsapp.ask(sender, "¿qué incluye el plan?"))
    assert "1. Starter" in offered and "2. Specialist" in offered
    assert whatsapp.ask(sender, "el segundo")[0].body.startswith("Plan Specialist:")
    whatsapp.ask(sender, "quiero comparar planes")
    digression = " ".join(m.body for m in whatsapp.ask(sender, "¿se acumula el paquete de canales?"))
    assert digression.startswith("No.") and "Sobre tu pregunta anterior" in digression
    assert "dejamos esa elección" in whatsapp.ask(sender, "ninguno")[0].body
    reply = whatsapp.ask(sender, "¿Con el plan Starter puedo atender clientes por WhatsApp?")[0].body
    assert reply.startswith("No.") and "Instagram" in reply
