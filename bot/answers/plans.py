"""Whole-plan questions: the list of plans, one plan's summary, and the differences between plans."""

from __future__ import annotations

from bot.answers.question import Question
from bot.answers.reply import Button, Context, Message, Reply, Table, first_upper, payload, single
from bot.answers.text import capacity_text, join, lower_first, number, pack, value_text
from bot.catalogue.models import Catalogue, Plan

SUMMARY_QUANTITIES = (
    "users",
    "interactionz",
    "active_bots",
    "api_rate_limit",
    "external_api_calls",
    "data_retention",
    "storage",
    "contacts",
)


def plan_buttons(catalogue: Catalogue, intent: str = "plan_summary") -> tuple[Button, ...]:
    """One button per plan that asks for its summary."""
    return tuple(Button(p.name, payload(intent, {"plan": (p.key,)})) for p in catalogue.plans)


def _capacity(catalogue: Catalogue, plan: Plan) -> str:
    users = catalogue.feature("users")
    interactionz = catalogue.feature("interactionz")
    return (
        f"{capacity_text(users, users.values[plan.key])} y "
        f"{capacity_text(interactionz, interactionz.values[plan.key])}"
    )


def list_plans(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué planes hay?'."""
    names = [p.name for p in catalogue.plans]
    lines = [f"{p.name}: {_capacity(catalogue, p)}" for p in catalogue.plans]
    text = (
        f"{catalogue.facts.product} tiene {len(names)} planes de software: {join(names)}. "
        "Cada uno se combina con un plan de canales.\n"
        + "\n".join(f"• {line}" for line in lines)
        + "\n¿Quieres el detalle de alguno o que los compare?"
    )
    return single(text, buttons=plan_buttons(catalogue), context=Context(topic="list_plans"))


def _summary(catalogue: Catalogue, plan: Plan) -> str:
    lines: list[str] = []
    for key in SUMMARY_QUANTITIES:
        feature = catalogue.feature(key)
        value = feature.values[plan.key]
        if value.amount is not None or value.unlimited or value.on_request:
            lines.append(f"{feature.name}: {value_text(feature, value)}")
    sla = catalogue.feature("sla").values[plan.key]
    if sla.detail:
        lines.append(f"SLA: {sla.detail[0].lower()}{sla.detail[1:]}")
    quantity_keys = {*SUMMARY_QUANTITIES, "sla", "monthly_cost"}
    lacking = [
        f.name for f in catalogue.features if f.key not in quantity_keys and not f.values[plan.key].available
    ]
    previous = next((p for p in reversed(catalogue.plans) if p.rank < plan.rank), None)
    gained = []
    if previous is not None:
        gained = [
            f.name
            for f in catalogue.features
            if f.kind == "included" and f.values[plan.key].available and not f.values[previous.key].available
        ]
    cost = catalogue.feature("monthly_cost").values[plan.key]
    price = "bajo consulta" if cost.on_request else lower_first(cost.detail or "").rstrip(".")
    text = f"Plan {plan.name}: {_capacity(catalogue, plan)}. Precio: {price}.\n"
    text += "\n".join(f"• {line}" for line in lines)
    if gained and previous is not None:
        text += f"\nRespecto al plan {previous.name}, agrega: {join(gained)}."
    if lacking:
        text += f"\nNo incluye: {join(lacking)}."
    else:
        text += "\nIncluye todos los recursos de la tabla de planes."
    return text


def plan_summary(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué incluye el Expert?'."""
    plans = question.plans or question.context.plans
    if not plans:
        return single(
            "¿De qué plan quieres el resumen?",
            buttons=plan_buttons(catalogue),
            context=Context(topic="plan_summary"),
            awaiting=True,
        )
    messages = tuple(Message(_summary(catalogue, catalogue.plan(key))) for key in plans[:2])
    return Reply(messages, Context(topic="plan_summary", plans=tuple(plans)))


def _differences(catalogue: Catalogue, plans: list[Plan]) -> list[tuple[str, list[str]]]:
    rows = []
    for feature in catalogue.features:
        cells = [value_text(feature, feature.values[p.key]) for p in plans]
        if len(set(cells)) > 1:
            rows.append((feature.name, cells))
    return rows


def _short(cell: str) -> str:
    return {"incluido": "sí", "no incluido": "no"}.get(cell, cell)


def _which_to_compare(catalogue: Catalogue, keys: list[str]) -> Reply:
    """One plan named: compare it with which? None: which two (neighbouring plans offered)?"""
    context = Context(topic="compare_plans", plans=tuple(keys))
    if keys:
        named = catalogue.plan(keys[0])
        buttons = tuple(
            Button(p.name, payload("compare_plans", {"plan": (named.key, p.key)}), (p.key,))
            for p in catalogue.plans
            if p.key != named.key
        )
        text = f"¿Con qué plan quieres comparar el {named.name}?"
    else:
        pairs = zip(catalogue.plans, catalogue.plans[1:], strict=False)
        buttons = tuple(
            Button(f"{a.name} y {b.name}", payload("compare_plans", {"plan": (a.key, b.key)}))
            for a, b in pairs
        )
        text = "¿Qué planes quieres comparar? Dime al menos dos, por ejemplo «Starter y Expert», o elige:"
    return single(text, buttons=buttons, context=context, awaiting=True)


def compare_plans(catalogue: Catalogue, question: Question) -> Reply:
    """'Diferencias entre Starter y Expert': only the rows where the plans differ."""
    keys = list(question.plans)
    if len(keys) == 1 and question.context.plans and question.context.plans[-1] != keys[0]:
        keys = [question.context.plans[-1], keys[0]]
    if len(keys) < 2:
        return _which_to_compare(catalogue, keys)
    plans = sorted((catalogue.plan(k) for k in keys), key=lambda p: p.rank)
    names = [p.name for p in plans]
    rows = _differences(catalogue, plans)
    context = Context(topic="compare_plans", plans=tuple(p.key for p in plans))
    if not rows:
        return single(
            f"Los planes {join(names)} no se diferencian en ningún recurso de la tabla.", context=context
        )
    lines = [
        f"{name}: " + " · ".join(f"{n} {_short(c)}" for n, c in zip(names, cells, strict=True))
        for name, cells in rows
    ]
    header = f"Diferencias entre {join(names)} ({number(len(rows))} recursos; el resto es igual):"
    chunks = pack(header, lines)
    table = Table(
        ("Recurso", *names), tuple((name, *(first_upper(c) for c in cells)) for name, cells in rows)
    )
    messages = [Message(chunk) for chunk in chunks]
    messages[-1] = Message(messages[-1].text, table=table)
    return Reply(tuple(messages), context)


def capabilities(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué sabes hacer?': what the assistant answers, with three ways to start."""
    names = join([p.name for p in catalogue.plans])
    text = (
        f"Puedo ayudarte con:\n- Qué incluye cada plan ({names}) y desde qué plan hay una función.\n"
        "- Comparar planes y recomendarte el más adecuado según tus usuarios, InteractionZ y funciones.\n"
        "- Precios, InteractionZ, usuarios y excedentes.\n- El plan de canales.\n"
        "- Formas de pago, tarjetas, invoices y cómo contratar.\n"
        "Si eres Admin y has iniciado sesión, también el estado de tus contratos, pagos, facturas y tarjeta."
    )
    buttons = (
        Button("Ver los planes", "/list_plans"),
        Button("Recomiéndame un plan", "/recommend_plan"),
        Button("Formas de pago", "/ask_payment_methods"),
    )
    return single(text, buttons=buttons)
