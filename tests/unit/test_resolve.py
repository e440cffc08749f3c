"""Typed plan, feature and channel names (typos, no accents, free text) resolve to catalogue keys."""

from __future__ import annotations

import pytest

from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Mentions, Resolver, fold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Retención  de DATOS?", "retencion de datos"),
        ("¿Qué incluye el Específicamente?", "que incluye el especificamente"),
        ("  WhatsApp   Business  ", "whatsapp business"),
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


# --- resolve: one surface form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surface", "key"),
    [
        ("Starter", "starter"),
        ("el Starter", "starter"),
        ("plan starter", "starter"),
        ("especialist", "specialist"),
        ("Especialista", "specialist"),
        ("spezialist", "specialist"),
        ("Expert", "expert"),
        ("expret", "expert"),
        ("del Expert", "expert"),
        ("experto", "expert"),
        ("profesional", "professional"),
        ("professionall", "professional"),
        ("Pro", "professional"),
        ("enterprice", "enterprise"),
        ("entrprise", "enterprise"),
        ("ENTERPRISE", "enterprise"),
    ],
)
def test_plan_names(resolver: Resolver, surface: str, key: str) -> None:
    assert resolver.resolve("plan", surface) == key


@pytest.mark.parametrize(
    "surface", ["Específicamente", "especificamente", "problema", "empresa", "", "   ", "xyz"]
)
def test_not_a_plan(resolver: Resolver, surface: str) -> None:
    assert resolver.resolve("plan", surface) is None


@pytest.mark.parametrize(
    ("surface", "key"),
    [
        ("retension de datos", "data_retention"),
        ("retención de datos", "data_retention"),
        ("Retencion", "data_retention"),
        ("SSO", "enterprise_sso"),
        ("single sign on", "enterprise_sso"),
        ("almacenamiento", "storage"),
        ("Almacenamiento para informes, plantillas y archivos", "storage"),
        ("usuarios", "users"),
        ("licencias", "users"),
        ("interacciones", "interactionz"),
        ("InteractionZ", "interactionz"),
        ("bots", "active_bots"),
        ("mapa de flujos", "flow_map"),
        ("IA generativa", "generative_ai_answers"),
        ("account manager", "account_manager"),
        ("limite de api", "api_rate_limit"),
        ("iso 27001", "iso27001"),
        ("repositorio de mensajes", "message_repository"),
    ],
)
def test_feature_names(resolver: Resolver, surface: str, key: str) -> None:
    assert resolver.resolve("feature", surface) == key


@pytest.mark.parametrize(
    ("surface", "key"),
    [
        ("whatsap", "whatsapp"),
        ("WhatsApp Business", "whatsapp"),
        ("wsp", "whatsapp"),
        ("SMS", "sms"),
        ("rcs", "rcs"),
        ("correo electrónico", "email"),
        ("e-mail", "email"),
        ("Instagram", "instagram"),
        ("fb", "facebook_messenger"),
        ("web chat", "webchat"),
    ],
)
def test_channel_names(resolver: Resolver, surface: str, key: str) -> None:
    assert resolver.resolve("channel", surface) == key


def test_kinds_do_not_leak(resolver: Resolver) -> None:
    assert resolver.resolve("feature", "Expert") is None
    assert resolver.resolve("channel", "almacenamiento") is None
    assert resolver.resolve("plan", "whatsapp") is None


def test_every_name_and_alias_resolves_to_its_owner(catalogue: Catalogue, resolver: Resolver) -> None:
    for plan in catalogue.plans:
        for alias in (plan.name, *plan.aliases):
            assert resolver.resolve("plan", alias) == plan.key, alias
    for feature in catalogue.features:
        for alias in (feature.name, *feature.aliases):
            assert resolver.resolve("feature", alias) == feature.key, alias
    for channel in catalogue.channels:
        for alias in (channel.name, *channel.aliases):
            assert resolver.resolve("channel", alias) == channel.key, alias


# --- scan / mentions: free text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plans"),
    [
        ("diferencias entre el starter y el profesional", ("starter", "professional")),
        ("¿Y el Pro?", ("professional",)),
        ("qué incluye el plan profesional y el enterprice", ("professional", "enterprise")),
        ("la retension de datos del especialist", ("specialist",)),
        ("Específicamente, el expret", ("expert",)),
        ("Específicamente quiero saber del expert", ("expert",)),
        ("starter vs expert vs starter", ("starter", "expert")),
        ("compara enterprise con starter", ("enterprise", "starter")),
    ],
)
def test_plan_scan_in_free_text(resolver: Resolver, text: str, plans: tuple[str, ...]) -> None:
    assert resolver.mentions([], text).plans == plans


@pytest.mark.parametrize(
    "text",
    [
        "Específicamente, ¿cómo agrego una tarjeta?",
        "tengo un problema con la tarjeta",
        "proceso de compra",
        "el plan especial de navidad",
        "experiencia con el producto",
        "una empresa pequeña",
        "hola",
    ],
)
def test_no_plan_in_free_text(resolver: Resolver, text: str) -> None:
    assert resolver.mentions([], text).plans == ()


def test_whole_word_matching(resolver: Resolver) -> None:
    assert "professional" not in resolver.scan("plan", "tengo un problema")
    assert "professional" not in resolver.scan("plan", "un producto profesionalmente hecho")
    assert resolver.scan("plan", "el pro") == ["professional"]
    assert resolver.scan("feature", "me llegan reportes") == ["report_export"]
    assert resolver.scan("feature", "reportesx") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "¿Cuánto almacenamiento tiene el Expert?",
            Mentions(plans=("expert",), features=("storage",)),
        ),
        (
            "la retension de datos del especialist",
            Mentions(plans=("specialist",), features=("data_retention",)),
        ),
        ("sso en enterprise", Mentions(plans=("enterprise",), features=("enterprise_sso",))),
        (
            "necesito IA generativa y mapa de flujos",
            Mentions(features=("generative_ai_answers", "flow_map")),
        ),
        ("tienen whatsap o instagram?", Mentions(channels=("whatsapp", "instagram"))),
        ("mensajes de texto por sms", Mentions(channels=("sms",))),
    ],
)
def test_mentions_from_text(resolver: Resolver, text: str, expected: Mentions) -> None:
    assert resolver.mentions([], text) == expected


def test_longest_alias_wins(resolver: Resolver) -> None:
    # "whatsapp business" is one channel; "retencion de datos" is one feature, not "retencion" plus words.
    assert resolver.mentions([], "whatsapp business").channels == ("whatsapp",)
    assert resolver.scan("feature", "retencion de datos") == ["data_retention"]


def test_entities_come_first_then_the_scan(resolver: Resolver) -> None:
    entities = [{"entity": "plan", "value": "specialist", "start": 0, "end": 11}]
    assert resolver.mentions(entities, "especialist y el expert").plans == ("specialist", "expert")


def test_entity_value_replaced_by_a_synonym_falls_back_to_the_typed_words(resolver: Resolver) -> None:
    entities = [{"entity": "feature", "value": "zzz", "start": 4, "end": 18}]
    assert resolver.mentions(entities, "del almacenamiento").features == ("storage",)


def test_unknown_entity_types_are_ignored(resolver: Resolver) -> None:
    assert resolver.mentions([{"entity": "color", "value": "rojo"}], "rojo") == Mentions()
