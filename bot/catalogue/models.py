"""Typed models of the help-centre page: plans, feature rows, channels and billing facts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChannelUse = Literal["envios", "atencion", "chatbots"]


class Strict(BaseModel):
    """Base model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(Strict):
    """How a quantity is spoken: '1 usuario', 'hasta 10 solicitudes por segundo'."""

    singular: str
    plural: str
    prefix: str | None = None
    # How an unlimited amount is said: "usuarios ilimitados", "InteractionZ ilimitadas".
    unlimited: str | None = None
    # "count": plain number; "megabytes": rendered as MB/GB.
    format: Literal["count", "megabytes"] = "count"


class PlanValue(Strict):
    """One cell of the plans table: the value of a feature in one plan."""

    available: bool = True
    amount: int | None = Field(default=None, ge=0)
    unlimited: bool = False
    on_request: bool = False
    detail: str | None = None
    note: str | None = None
    activator: tuple[str, ...] | None = None
    service: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PlanValue:
        if not self.available and (self.amount is not None or self.unlimited or self.detail):
            raise ValueError("a feature that is not available cannot carry a value")
        if sum([self.amount is not None, self.unlimited, self.on_request]) > 1:
            raise ValueError("amount, unlimited and on_request exclude each other")
        return self


class Plan(Strict):
    """A software plan (Starter … Enterprise), ordered by rank."""

    key: str
    name: str
    rank: int = Field(ge=1)
    aliases: tuple[str, ...] = ()


class Feature(Strict):
    """A row of the plans table with its value in every plan."""

    key: str
    name: str
    section: str
    kind: Literal["included", "quantity", "text"]
    unit: Unit | None = None
    aliases: tuple[str, ...] = ()
    # How the page's marks were read where the row has fewer marks than plans.
    reading: str | None = None
    values: dict[str, PlanValue]

    @model_validator(mode="after")
    def _quantity_has_unit(self) -> Feature:
        if self.kind == "quantity" and self.unit is None:
            raise ValueError(f"quantity feature {self.key!r} needs a unit")
        return self


class Channel(Strict):
    """A channel of the channels plan and what it can be used for."""

    key: str
    name: str
    uses: tuple[ChannelUse, ...]
    aliases: tuple[str, ...] = ()


class ContractField(Strict):
    """One piece of management information every listed contract shows."""

    name: str
    description: str


class Facts(Strict):
    """Everything the page says about contracting, contracts and payment."""

    product: str
    contracting: str
    plans_site_url: str
    where_to_see: str
    admin_only: str
    contract_fields: tuple[ContractField, ...]
    software_plan: str
    interactionz: str
    users: str
    overage: str
    price: str
    enterprise_price: str
    channels_plan: str
    channels_package_rules: tuple[str, ...]
    channel_use_names: dict[ChannelUse, str]
    payment_methods: tuple[str, ...]
    payment_management: str
    card_steps: tuple[str, ...]
    card_immediate_access: str
    card_checklist: tuple[str, ...]
    card_issuer_advice: str
    invoice_rule: str
    invoice_location: str
    faq_pointer: str


class Catalogue(Strict):
    """The whole help-centre page as data."""

    plans: tuple[Plan, ...]
    sections: tuple[str, ...]
    features: tuple[Feature, ...]
    channels: tuple[Channel, ...]
    facts: Facts

    @field_validator("plans")
    @classmethod
    def _ranked(cls, plans: tuple[Plan, ...]) -> tuple[Plan, ...]:
        ranks = [p.rank for p in plans]
        if ranks != sorted(ranks) or len(set(ranks)) != len(ranks):
            raise ValueError("plans must be listed once each, in rank order")
        return plans

    @model_validator(mode="after")
    def _every_cell_filled(self) -> Catalogue:
        plan_keys = {p.key for p in self.plans}
        seen: set[str] = set()
        for feature in self.features:
            if feature.key in seen:
                raise ValueError(f"feature {feature.key!r} is listed twice")
            seen.add(feature.key)
            if set(feature.values) != plan_keys:
                missing = sorted(plan_keys - set(feature.values))
                extra = sorted(set(feature.values) - plan_keys)
                raise ValueError(f"feature {feature.key!r}: missing {missing}, unknown {extra}")
            if feature.section not in self.sections:
                raise ValueError(f"feature {feature.key!r}: unknown section {feature.section!r}")
        self._aliases_unique()
        return self

    def _aliases_unique(self) -> None:
        owners: dict[str, str] = {}
        names = [(p.key, (p.name, *p.aliases)) for p in self.plans]
        names += [(f"feature:{f.key}", (f.name, *f.aliases)) for f in self.features]
        names += [(f"channel:{c.key}", (c.name, *c.aliases)) for c in self.channels]
        for owner, aliases in names:
            for alias in aliases:
                folded = alias.casefold()
                if owners.get(folded, owner) != owner:
                    raise ValueError(f"alias {alias!r} names both {owners[folded]} and {owner}")
                owners[folded] = owner

    # Look-ups used by the answers.
    def plan(self, key: str) -> Plan:
        """The plan with this key."""
        return next(p for p in self.plans if p.key == key)

    def feature(self, key: str) -> Feature:
        """The feature with this key."""
        return next(f for f in self.features if f.key == key)

    def channel(self, key: str) -> Channel:
        """The channel with this key."""
        return next(c for c in self.channels if c.key == key)
