"""End to end: questions in users' own words through the REST channel, facts checked against the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.answers.text import number
from bot.catalogue.loader import load_catalogue
from tests.e2e.conftest import Ask, text_of

pytestmark = pytest.mark.e2e

CATALOGUE = load_catalogue()


def amount(feature: str, plan: str) -> str:
    """The included amount of a feature in a plan, as the answers write it (2.000)."""
    value = CATALOGUE.feature(feature).values[plan].amount
    assert value is not None
    return number(value)


@dataclass(frozen=True)
class Case:
    question: str
    must: tuple[str, ...]
    must_not: tuple[str, ...] = ()


CASES = [
    # Value of a feature in a plan.
    Case("¿cuántos usuarios trae el Expert?", (f"{amount('users', 'expert')} usuarios", "Expert")),
    Case("cuantos usuarios tiene el plan specialist", (f"{amount('users', 'specialist')} usuarios",)),
    Case("el starter tiene repositorio de mensajes?", ("No", "Starter", "desde el plan Specialist")),
    Case("retencion de datos del professional", ("6 meses", "24 meses offline")),
    Case(
        "cuantas interactionz incluye el plan professional",
        (f"{amount('interactionz', 'professional')} InteractionZ",),
    ),
    Case("cuanto almacenamiento tiene el expert?", ("2 GB",)),
    Case("el enterprise tiene sso?", ("Sí", "Enterprise", "Single Sign On")),
    Case("el especialist tiene mapa de flujos?", ("No", "Specialist", "desde el plan Expert")),
    Case("cuantos bots activos tiene el starter", ("1 bot activo",)),
    Case("limite de solicitudes de api del expert", ("15 solicitudes por segundo",)),
    Case("el profesional trae ia generativa?", ("Sí", "Professional")),
    Case("cual es el sla del professional", ("4 horas", "2 horas")),
    Case("el starter exporta informes?", ("Sí", "informes de envíos")),
    Case("cuantos contactos puedo crear en el starter", ("1.000 contactos",)),
    # Which plans have a feature.
    Case("que planes tienen account manager", ("solo está disponible en el plan Enterprise",)),
    Case(
        "desde que plan hay mapa de flujos?", ("Expert", "Professional", "Enterprise", "desde el plan Expert")
    ),
    Case("en cuales planes viene la biblioteca para ia", ("Professional", "Enterprise")),
    Case(
        "cuantos usuarios trae cada plan",
        ("1 usuario", "10 usuarios", "30 usuarios", "50 usuarios", "ilimitado"),
    ),
    # Comparisons and summaries.
    Case(
        "diferencias entre el expert y el professional",
        ("30 usuarios", "50 usuarios", "IA Generativa"),
        ("Mapa de flujos",),
    ),
    Case("starter vs specialist", ("Repositorio de mensajes", "Starter no")),
    Case("que incluye el plan expert", ("Plan Expert", "30 usuarios", "2.000 InteractionZ")),
    Case("hablame del enterprise", ("Enterprise", "bajo consulta", "Account manager")),
    Case("que planes tienen?", ("Starter", "Specialist", "Expert", "Professional", "Enterprise")),
    # Recommendation.
    Case("que plan me conviene para 20 usuarios y 1500 interactionz", ("Expert",)),
    Case("somos 12 personas, cual plan me recomiendas?", ("Expert", "Specialist", "2 usuarios")),
    Case("necesito ia generativa para 5 usuarios, que plan me sirve", ("Professional",)),
    # Price, InteractionZ, users, overage.
    Case("cuanto cuesta el plan enterprise", ("bajo consulta",)),
    Case("precio de los planes", ("varía según el número de usuarios", "InteractionZ")),
    Case("que son las interactionz?", ("créditos de interacción",)),
    Case("que significa usuarios en el plan", ("licencias",)),
    Case("que pasa si me paso de las interactionz del plan", ("se cobran por separado",)),
    # Channels.
    Case("para que sirve el sms", ("SMS", "envíos")),
    Case("que canales hay", ("WhatsApp", "Instagram", "Webchat", "Facebook Messenger", "RCS")),
    Case("el paquete de canales se acumula entre meses?", ("no se acumula",)),
    # Payment, cards, invoices, contracting, access.
    Case("como puedo pagar", ("tarjeta de crédito", "invoice")),
    Case("como agrego una tarjeta nueva", ("Gestionar tarjetas", "Agregar tarjeta", "My Wallet")),
    Case("no puedo registrar mi tarjeta, me da error", ("CVV", "emisor de tu tarjeta")),
    Case("puedo pagar con factura?", ("después de un mes", "Configuraciones > Información financiera")),
    Case("como contrato un plan", ("sitio web", "plan de canales")),
    Case("donde veo mis planes y contratos", ("Ajustes > Planes y contratos", "Admin")),
    # Own account, not signed in.
    Case("cual es el estado de mi contrato", ("perfil Admin",)),
    # Conversation glue and safety.
    Case("hola", ("Hola",)),
    Case("que puedes hacer?", ("Comparar planes",)),
    Case("quien gano el partido de ayer", ("solo puedo ayudarte",)),
    Case("mi tarjeta es 4111 1111 1111 1111 vence 12/28", ("no compartas",), ("4111", "1111")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.question for c in CASES])
def test_public_question(ask: Ask, case: Case) -> None:
    reply = text_of(ask(case.question))
    for fact in case.must:
        assert fact in reply, f"{fact!r} missing from reply to {case.question!r}:\n{reply}"
    for leak in case.must_not:
        assert leak not in reply, f"{leak!r} must not be in reply to {case.question!r}:\n{reply}"


def test_follow_up_keeps_the_feature(ask: Ask) -> None:
    sender = "e2e-follow-up"
    assert "10 usuarios" in text_of(ask("¿cuántos usuarios tiene el Specialist?", sender))
    assert "30 usuarios" in text_of(ask("¿y el Expert?", sender))
    assert "Professional" in text_of(ask("y en el professional?", sender))


def test_follow_up_keeps_the_plan(ask: Ask) -> None:
    sender = "e2e-follow-up-plan"
    assert "Expert" in text_of(ask("el expert tiene mapa de flujos?", sender))
    assert "2 GB" in text_of(ask("y el almacenamiento?", sender))


def test_every_reply_fits_whatsapp(ask: Ask) -> None:
    for question in ("diferencias entre starter y enterprise", "que incluye el starter", "que canales hay"):
        for message in ask(question):
            assert len(message.get("text") or "") <= 1600
