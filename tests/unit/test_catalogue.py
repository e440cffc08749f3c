"""The catalogue data against the help-centre page «Planes y contratos en Zenvia Customer Cloud».

Every expected value below is copied from the page (/work/shared/seeds/planes-y-contratos.txt), not from
the code, so a transcription error in bot/catalogue/data/*.yml fails here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from bot.catalogue.loader import read_source
from bot.catalogue.models import Catalogue, PlanValue

PLANS = ("starter", "specialist", "expert", "professional", "enterprise")
PLAN_NAMES = ("Starter", "Specialist", "Expert", "Professional", "Enterprise")

# A quantity cell: an int amount, "unlimited" or "on_request".
UNLIMITED = "unlimited"
ON_REQUEST = "on_request"

QUANTITIES: dict[str, tuple[int | str, ...]] = {
    "users": (1, 10, 30, 50, UNLIMITED),
    "interactionz": (100, 500, 2000, 5000, UNLIMITED),
    "active_bots": (1, 5, 10, UNLIMITED, UNLIMITED),
    "api_rate_limit": (10, 10, 15, 20, ON_REQUEST),
    "external_api_calls": (150_000, 150_000, 350_000, 750_000, ON_REQUEST),
    "data_retention": (3, 6, 6, 6, ON_REQUEST),
    # 300MB, 1GB, 2GB, 5GB, in megabytes.
    "storage": (300, 1024, 2048, 5120, ON_REQUEST),
}

# How many plans tick each row of the page's table (ticks belong to the highest plans).
TICKS: dict[str, int] = {
    "monthly_cost": 5,
    "users": 5,
    "interactionz": 5,
    "mass_messaging": 5,
    "report_export": 5,
    "message_repository": 4,
    "auto_reengagement": 5,
    "multichannel": 5,
    "automated_triage": 4,
    "human_handover": 4,
    "best_time_sending": 4,
    "service_transfer": 4,
    "closing_reasons": 5,
    "active_bots": 5,
    "bot_templates": 5,
    "api_bots": 3,
    "ai_bot_builder": 3,
    "flow_map": 3,
    "generative_ai_answers": 2,
    "ai_library": 2,
    "sales_integrations": 4,
    "batch_processing": 4,
    "analytics_panels": 5,
    "contacts": 5,
    "contact_import": 5,
    "lead_scoring": 5,
    "third_party_connectors": 4,
    "message_templates": 4,
    "communication_rules": 3,
    "sales_team_management": 4,
    "api_access": 5,
    "api_rate_limit": 5,
    "external_api_calls": 5,
    "account_profile_management": 4,
    "data_retention": 5,
    "storage": 5,
    "enterprise_sso": 1,
    "iso27001": 5,
    "help_center": 5,
    "email_support": 5,
    "chat_support": 5,
    "sla": 5,
    "account_manager": 1,
}

# Rows where the page shows an explicit ❌ rather than fewer ticks: no reading is needed.
EXPLICIT_CROSS = {"message_repository"}

SLA_12 = "Hasta 2 horas para primera respuesta; hasta 12 horas para resolver llamadas críticas"
SLA_4 = "Hasta 2 horas para primera respuesta; hasta 4 horas para resolver llamadas críticas"

SECTIONS = (
    "Precio, usuarios e InteractionZ",
    "Recursos para enviar mensajes y comunicarse con sus clientes",
    "Gestión de contactos",
    "Recursos para aumentar la productividad",
    "Gobernanza de datos y accesos",
    "Seguridad y soporte",
)


def cell(value: PlanValue) -> int | str:
    if value.unlimited:
        return UNLIMITED
    if value.on_request:
        return ON_REQUEST
    assert value.amount is not None
    return value.amount


# --- Plans ------------------------------------------------------------------------------------------


def test_five_plans_in_rank_order(catalogue: Catalogue) -> None:
    assert tuple(p.key for p in catalogue.plans) == PLANS
    assert tuple(p.name for p in catalogue.plans) == PLAN_NAMES
    assert [p.rank for p in catalogue.plans] == sorted(p.rank for p in catalogue.plans)


def test_sections_follow_the_page(catalogue: Catalogue) -> None:
    assert catalogue.sections == SECTIONS


def test_every_row_of_the_page_is_a_feature(catalogue: Catalogue) -> None:
    assert {f.key for f in catalogue.features} == set(TICKS)
    assert len(catalogue.features) == len(TICKS)


@pytest.mark.parametrize("key", sorted(TICKS))
def test_every_feature_has_a_value_for_every_plan(catalogue: Catalogue, key: str) -> None:
    assert set(catalogue.feature(key).values) == set(PLANS)


@pytest.mark.parametrize(("key", "ticks"), sorted(TICKS.items()))
def test_ticks_belong_to_the_highest_plans(catalogue: Catalogue, key: str, ticks: int) -> None:
    values = catalogue.feature(key).values
    available = [values[p].available for p in PLANS]
    assert available == [False] * (5 - ticks) + [True] * ticks


@pytest.mark.parametrize(("key", "expected"), sorted(QUANTITIES.items()))
def test_quantities(catalogue: Catalogue, key: str, expected: tuple[int | str, ...]) -> None:
    feature = catalogue.feature(key)
    assert feature.kind == "quantity"
    assert feature.unit is not None
    assert tuple(cell(feature.values[p]) for p in PLANS) == expected


def test_users_and_interactionz_overage_notes(catalogue: Catalogue) -> None:
    for key, note in (
        ("users", "Usuarios excedentes se cobran por separado."),
        ("interactionz", "InteractionZ excedentes se cobran por separado."),
    ):
        values = catalogue.feature(key).values
        assert [values[p].note for p in PLANS[:4]] == [note] * 4
        assert values["enterprise"].note is None


def test_professional_retention_has_24_months_offline(catalogue: Catalogue) -> None:
    values = catalogue.feature("data_retention").values
    assert values["professional"].amount == 6
    assert values["professional"].detail == "hasta 24 meses offline"
    assert all(values[p].detail is None for p in PLANS if p != "professional")


def test_storage_is_in_megabytes(catalogue: Catalogue) -> None:
    unit = catalogue.feature("storage").unit
    assert unit is not None
    assert unit.format == "megabytes"


def test_monthly_cost_varies_except_enterprise_on_request(catalogue: Catalogue) -> None:
    values = catalogue.feature("monthly_cost").values
    for plan in PLANS[:4]:
        assert values[plan].detail == (
            "El precio total varía según el número de usuarios y las InteractionZ consumidas."
        )
    assert values["enterprise"].on_request
    assert values["enterprise"].detail is None


def test_sla_texts(catalogue: Catalogue) -> None:
    values = catalogue.feature("sla").values
    assert [values[p].detail for p in PLANS] == [SLA_12, SLA_12, SLA_12, SLA_4, SLA_4]


@pytest.mark.parametrize("key", ["enterprise_sso", "account_manager"])
def test_only_enterprise(catalogue: Catalogue, key: str) -> None:
    values = catalogue.feature(key).values
    assert [p for p in PLANS if values[p].available] == ["enterprise"]


def test_message_repository_not_in_starter(catalogue: Catalogue) -> None:
    values = catalogue.feature("message_repository").values
    assert not values["starter"].available
    assert all(values[p].available for p in PLANS[1:])


@pytest.mark.parametrize("key", ["generative_ai_answers", "ai_library"])
def test_generative_ai_only_professional_and_enterprise(catalogue: Catalogue, key: str) -> None:
    values = catalogue.feature(key).values
    assert [p for p in PLANS if values[p].available] == ["professional", "enterprise"]


@pytest.mark.parametrize("key", ["api_bots", "ai_bot_builder", "flow_map", "communication_rules"])
def test_from_expert_up(catalogue: Catalogue, key: str) -> None:
    values = catalogue.feature(key).values
    assert [p for p in PLANS if values[p].available] == ["expert", "professional", "enterprise"]


def test_rows_with_fewer_ticks_have_a_reading(catalogue: Catalogue) -> None:
    for feature in catalogue.features:
        lacking = TICKS[feature.key] < 5 and feature.key not in EXPLICIT_CROSS
        if lacking:
            assert feature.reading, f"{feature.key} has fewer ticks than plans but no reading"
        else:
            assert feature.reading is None, f"{feature.key} has a tick in every plan but a reading"


def test_readings_agree_with_the_ticks(catalogue: Catalogue) -> None:
    for feature in catalogue.features:
        if feature.reading is None:
            continue
        assert f"marca {TICKS[feature.key]} de 5 planes" in feature.reading, feature.key
        lacking = [p.name for p in catalogue.plans if not feature.values[p.key].available]
        having = [p.name for p in catalogue.plans if feature.values[p.key].available]
        # The reading names the plans lacking it, or, when only one plan has it, that plan.
        named = having if len(having) == 1 else lacking
        for name in named:
            assert name in feature.reading, (feature.key, name)


def test_details_of_partial_cells(catalogue: Catalogue) -> None:
    def detail(key: str, plan: str) -> str | None:
        return catalogue.feature(key).values[plan].detail

    assert detail("report_export", "starter") == "Solamente informes de envíos"
    assert detail("analytics_panels", "starter") == "Consumo y envíos"
    for plan in ("specialist", "expert", "professional"):
        assert detail("analytics_panels", plan) == "Consumo, envíos, conversión y insights"
    assert detail("api_access", "starter") == detail("api_access", "specialist") == "Envío de mensajes"
    for plan in ("expert", "professional", "enterprise"):
        assert detail("api_access", plan) == "Envío de mensajes, conversaciones y gestión de contactos"
        assert detail("third_party_connectors", plan) == (
            "Sincronice leads y envíe mensajes transaccionales personalizados"
        )
    assert detail("third_party_connectors", "specialist") == (
        "Sincronice sus leads con herramientas de generación de demanda"
    )
    for plan in PLANS[1:]:
        assert detail("batch_processing", plan) == "Hasta 40 mensajes procesados por segundo"


def test_starter_contacts_limited_to_1000(catalogue: Catalogue) -> None:
    values = catalogue.feature("contacts").values
    assert values["starter"].amount == 1000
    assert all(values[p].available and values[p].amount is None for p in PLANS[1:])


def test_multichannel_starter_lacks_whatsapp_as_service_channel(catalogue: Catalogue) -> None:
    values = catalogue.feature("multichannel").values
    activator = ("SMS", "RCS", "WhatsApp Business", "Email")
    for plan in PLANS:
        assert values[plan].activator == activator
    assert values["starter"].service == ("Instagram", "Facebook Messenger", "Webchat")
    assert "WhatsApp Business" not in (values["starter"].service or ())
    for plan in PLANS[1:]:
        assert values[plan].service == ("WhatsApp Business", "Instagram", "Facebook Messenger", "Webchat")


# --- Channels ---------------------------------------------------------------------------------------

CHANNEL_USES = {
    "WhatsApp": ("envios", "atencion", "chatbots"),
    "SMS": ("envios",),
    "RCS": ("envios",),
    "E-mail": ("envios",),
    "Facebook Messenger": ("atencion",),
    "Instagram Messenger": ("atencion", "chatbots"),
    "Webchat": ("atencion", "chatbots"),
}


def test_the_seven_channels_and_their_uses(catalogue: Catalogue) -> None:
    assert len(catalogue.channels) == 7
    assert {c.name: c.uses for c in catalogue.channels} == CHANNEL_USES


def test_channel_use_names(catalogue: Catalogue) -> None:
    assert catalogue.facts.channel_use_names == {
        "envios": "envíos",
        "atencion": "atención al cliente",
        "chatbots": "chatbots",
    }


# --- Facts ------------------------------------------------------------------------------------------


def test_contracting_and_locations(catalogue: Catalogue) -> None:
    facts = catalogue.facts
    assert facts.product == "Zenvia Customer Cloud"
    assert "sitio web de Zenvia" in facts.contracting
    assert "plan de software con un plan de canales" in facts.contracting
    assert facts.where_to_see == "Ajustes > Planes y contratos"
    assert facts.invoice_location == "Configuraciones > Información financiera"
    assert facts.plans_site_url == "https://www.zenvia.com/es-mx/customer-cloud/"


def test_admin_only(catalogue: Catalogue) -> None:
    assert "solo" in catalogue.facts.admin_only
    assert "Admin" in catalogue.facts.admin_only


def test_invoice_only_after_one_month(catalogue: Catalogue) -> None:
    rule = catalogue.facts.invoice_rule
    assert "invoice" in rule
    assert "después de un mes de uso" in rule


def test_payment_methods(catalogue: Catalogue) -> None:
    methods = catalogue.facts.payment_methods
    assert len(methods) == 2
    assert "tarjeta de crédito" in methods[0]
    assert "invoice" in methods[1]
    assert "acceso inmediato" in catalogue.facts.card_immediate_access


def test_card_steps(catalogue: Catalogue) -> None:
    steps = catalogue.facts.card_steps
    assert len(steps) == 3
    assert "Gestionar tarjetas" in steps[0]
    for seen in ("últimos 4 dígitos", "nombre del titular", "fecha de vencimiento"):
        assert seen in steps[0]
    assert "Agregar tarjeta" in steps[1]
    assert "My Wallet" in steps[2]


def test_card_checklist(catalogue: Catalogue) -> None:
    checklist = catalogue.facts.card_checklist
    assert len(checklist) == 5
    expected = (
        "números de la tarjeta",
        "fecha de vencimiento",
        "CVV",
        "compras en línea",
        "límite de crédito",
    )
    for item, words in zip(checklist, expected, strict=True):
        assert words in item
    assert "emisor de tu tarjeta" in catalogue.facts.card_issuer_advice


def test_contract_fields(catalogue: Catalogue) -> None:
    names = [f.name for f in catalogue.facts.contract_fields]
    assert names == [
        "Número de contrato",
        "Estado del contrato",
        "Plan de software y canales contratados",
        "Información financiera",
        "Gestión de la forma de pago",
    ]
    status = catalogue.facts.contract_fields[1].description
    assert "Activo" in status
    assert "Cancelado" in status


def test_channels_package_rules(catalogue: Catalogue) -> None:
    rules = " ".join(catalogue.facts.channels_package_rules)
    assert "no se acumula entre los meses" in rules
    assert "combinar los canales" in rules
    assert "único paquete" in catalogue.facts.channels_plan


def test_enterprise_price_on_request(catalogue: Catalogue) -> None:
    assert "bajo consulta" in catalogue.facts.enterprise_price
    assert "Enterprise" in catalogue.facts.enterprise_price


# --- Validation -------------------------------------------------------------------------------------


@pytest.fixture
def raw() -> dict[str, Any]:
    """A private deep copy of the YAML source, free to break."""
    return copy.deepcopy(read_source())


def feature_of(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return next(f for f in raw["features"] if f["key"] == key)


def test_the_untouched_source_validates(raw: dict[str, Any]) -> None:
    assert len(Catalogue.model_validate(raw).plans) == 5


def test_read_source_is_not_shared(raw: dict[str, Any]) -> None:
    raw["plans"].clear()
    assert len(read_source()["plans"]) == 5


def test_feature_missing_a_plan_cell(raw: dict[str, Any]) -> None:
    del feature_of(raw, "flow_map")["values"]["expert"]
    with pytest.raises(ValidationError, match="flow_map"):
        Catalogue.model_validate(raw)


def test_feature_with_an_unknown_plan_cell(raw: dict[str, Any]) -> None:
    feature_of(raw, "users")["values"]["premium"] = {"amount": 99}
    with pytest.raises(ValidationError, match="premium"):
        Catalogue.model_validate(raw)


def test_duplicate_alias_across_plan_and_feature(raw: dict[str, Any]) -> None:
    feature = feature_of(raw, "storage")
    feature["aliases"] = [*feature["aliases"], "Pro"]
    with pytest.raises(ValidationError, match="alias"):
        Catalogue.model_validate(raw)


def test_duplicate_alias_across_two_features(raw: dict[str, Any]) -> None:
    feature = feature_of(raw, "storage")
    feature["aliases"] = [*feature["aliases"], "retencion"]
    with pytest.raises(ValidationError, match="alias"):
        Catalogue.model_validate(raw)


def test_duplicate_alias_across_feature_and_channel(raw: dict[str, Any]) -> None:
    feature = feature_of(raw, "storage")
    feature["aliases"] = [*feature["aliases"], "whatsapp"]
    with pytest.raises(ValidationError, match="alias"):
        Catalogue.model_validate(raw)


@pytest.mark.parametrize(
    "where",
    ["top", "plan", "feature", "value", "unit", "channel", "facts"],
)
def test_unknown_extra_key(raw: dict[str, Any], where: str) -> None:
    target = {
        "top": raw,
        "plan": raw["plans"][0],
        "feature": feature_of(raw, "users"),
        "value": feature_of(raw, "users")["values"]["expert"],
        "unit": feature_of(raw, "users")["unit"],
        "channel": raw["channels"][0],
        "facts": raw["facts"],
    }[where]
    target["colour"] = "red"
    with pytest.raises(ValidationError, match="colour"):
        Catalogue.model_validate(raw)


def test_amount_on_an_unavailable_value(raw: dict[str, Any]) -> None:
    feature_of(raw, "message_repository")["values"]["starter"] = {"available": False, "amount": 3}
    with pytest.raises(ValidationError, match="not available"):
        Catalogue.model_validate(raw)


def test_detail_on_an_unavailable_value(raw: dict[str, Any]) -> None:
    feature_of(raw, "flow_map")["values"]["starter"] = {"available": False, "detail": "algo"}
    with pytest.raises(ValidationError, match="not available"):
        Catalogue.model_validate(raw)


def test_amount_and_unlimited_exclude_each_other(raw: dict[str, Any]) -> None:
    feature_of(raw, "users")["values"]["enterprise"] = {"unlimited": True, "amount": 100}
    with pytest.raises(ValidationError, match="exclude"):
        Catalogue.model_validate(raw)


def test_negative_amount(raw: dict[str, Any]) -> None:
    feature_of(raw, "users")["values"]["starter"] = {"amount": -1}
    with pytest.raises(ValidationError):
        Catalogue.model_validate(raw)


def test_plans_out_of_rank_order(raw: dict[str, Any]) -> None:
    raw["plans"][0], raw["plans"][1] = raw["plans"][1], raw["plans"][0]
    with pytest.raises(ValidationError, match="rank"):
        Catalogue.model_validate(raw)


def test_feature_listed_twice(raw: dict[str, Any]) -> None:
    raw["features"].append(copy.deepcopy(feature_of(raw, "sla")))
    with pytest.raises(ValidationError, match="twice"):
        Catalogue.model_validate(raw)


def test_feature_in_an_unknown_section(raw: dict[str, Any]) -> None:
    feature_of(raw, "sla")["section"] = "Otra sección"
    with pytest.raises(ValidationError, match="section"):
        Catalogue.model_validate(raw)


def test_quantity_feature_without_unit(raw: dict[str, Any]) -> None:
    del feature_of(raw, "users")["unit"]
    with pytest.raises(ValidationError, match="unit"):
        Catalogue.model_validate(raw)


def test_unknown_channel_use(raw: dict[str, Any]) -> None:
    raw["channels"][1]["uses"] = ["envios", "fax"]
    with pytest.raises(ValidationError):
        Catalogue.model_validate(raw)


def test_catalogue_is_immutable(catalogue: Catalogue) -> None:
    with pytest.raises(ValidationError):
        catalogue.plans[0].name = "Otro"  # type: ignore[misc]
