"""Needs read from free text, and the smallest plan of the page that meets them."""

from __future__ import annotations

import pytest

from bot.answers.recommend import Needs, parse_needs, recommend
from bot.catalogue.models import Catalogue

# --- parse_needs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("somos 20 y necesitamos 3 mil interacciones", Needs(users=20, interactionz=3000)),
        ("12 usuarios", Needs(users=12)),
        ("3.000 interactionz", Needs(interactionz=3000)),
        ("3.000 InteractionZ al mes", Needs(interactionz=3000)),
        ("necesito 1.500 InteractionZ y 3 chatbots", Needs(interactionz=1500, bots=3)),
        ("2k interacciones", Needs(interactionz=2000)),
        ("2,5k interacciones", Needs(interactionz=2500)),
        ("1.5 mil interacciones", Needs(interactionz=1500)),
        ("dos mil interacciones", Needs(interactionz=2000)),
        ("8 bots", Needs(bots=8)),
        ("un bot", Needs(bots=1)),
        ("veinte usuarios", Needs(users=20)),
        ("Somos 20 personas", Needs(users=20)),
        ("somos 20.", Needs(users=20)),
        ("5 agentes", Needs(users=5)),
        ("10 mil interacciones y 40 agentes", Needs(users=40, interactionz=10000)),
        ("¿Qué plan me conviene para 12 usuarios, 2.500 interacciones y 4 bots?", Needs(12, 2500, 4)),
    ],
)
def test_parse_needs(text: str, expected: Needs) -> None:
    assert parse_needs(text) == expected


@pytest.mark.parametrize("text", ["", "¿qué plan me conviene?", "cuantos usuarios tiene el expert", "hola"])
def test_parse_nothing(text: str) -> None:
    needs = parse_needs(text)
    assert needs.empty()


def test_parse_keeps_named_features_but_not_the_quantities() -> None:
    needs = parse_needs("5 usuarios con IA generativa", ("users", "generative_ai_answers", "interactionz"))
    assert needs == Needs(users=5, features=("generative_ai_answers",))
    assert not needs.empty()


# --- recommend ---------------------------------------------------------------------------------------


def keys(catalogue: Catalogue, needs: Needs) -> tuple[str | None, str | None]:
    plan, alternative = recommend(catalogue, needs)
    return (plan.key if plan else None, alternative.key if alternative else None)


def test_twelve_users_expert_or_specialist_with_overage(catalogue: Catalogue) -> None:
    # Specialist has 10 users, Expert 30: Expert fits, Specialist fits paying 2 extra users.
    assert keys(catalogue, Needs(users=12)) == ("expert", "specialist")


def test_one_user_fifty_interactionz_starter(catalogue: Catalogue) -> None:
    assert keys(catalogue, Needs(users=1, interactionz=50)) == ("starter", None)


def test_exact_limits_fit(catalogue: Catalogue) -> None:
    assert keys(catalogue, Needs(users=1, interactionz=100))[0] == "starter"
    assert keys(catalogue, Needs(users=10, interactionz=500))[0] == "specialist"
    assert keys(catalogue, Needs(users=30, interactionz=2000))[0] == "expert"
    assert keys(catalogue, Needs(users=50, interactionz=5000))[0] == "professional"


def test_sixty_users_enterprise(catalogue: Catalogue) -> None:
    plan, alternative = keys(catalogue, Needs(users=60))
    assert plan == "enterprise"
    # The nearest smaller plan: Professional's 50 users plus 10 extra.
    assert alternative == "professional"


def test_more_interactionz_than_professional(catalogue: Catalogue) -> None:
    assert keys(catalogue, Needs(interactionz=6000)) == ("enterprise", "professional")


def test_generative_ai_with_five_users_professional(catalogue: Catalogue) -> None:
    assert keys(catalogue, Needs(users=5, features=("generative_ai_answers",))) == ("professional", None)


def test_eleven_bots_professional(catalogue: Catalogue) -> None:
    # Expert has 10 bots; Professional unlimited. Bots are a hard limit: no alternative.
    assert keys(catalogue, Needs(bots=11)) == ("professional", None)


@pytest.mark.parametrize(
    ("bots", "plan"), [(1, "starter"), (2, "specialist"), (5, "specialist"), (10, "expert")]
)
def test_bots(catalogue: Catalogue, bots: int, plan: str) -> None:
    assert keys(catalogue, Needs(bots=bots))[0] == plan


@pytest.mark.parametrize(
    ("feature", "plan"),
    [
        ("message_repository", "specialist"),
        ("human_handover", "specialist"),
        ("flow_map", "expert"),
        ("api_bots", "expert"),
        ("ai_library", "professional"),
        ("enterprise_sso", "enterprise"),
        ("account_manager", "enterprise"),
        ("mass_messaging", "starter"),
    ],
)
def test_features_decide_the_smallest_plan(catalogue: Catalogue, feature: str, plan: str) -> None:
    assert keys(catalogue, Needs(features=(feature,))) == (plan, None)


def test_feature_plus_users_alternative_must_have_the_feature(catalogue: Catalogue) -> None:
    # Flow map starts at Expert; 40 users need Professional; the alternative is Expert (+10 users).
    assert keys(catalogue, Needs(users=40, features=("flow_map",))) == ("professional", "expert")


def test_recommendation_is_the_smallest_plan_that_fits(catalogue: Catalogue) -> None:
    """Brute force over the page's numbers: no smaller plan meets every need."""
    users = {"starter": 1, "specialist": 10, "expert": 30, "professional": 50, "enterprise": None}
    credits = {"starter": 100, "specialist": 500, "expert": 2000, "professional": 5000, "enterprise": None}
    order = list(users)

    def fits(plan: str, needs: Needs) -> bool:
        return all(
            limit is None or need is None or need <= limit
            for limit, need in ((users[plan], needs.users), (credits[plan], needs.interactionz))
        )

    for u in (None, 1, 2, 10, 11, 30, 31, 50, 51):
        for c in (None, 1, 100, 101, 500, 501, 2000, 2001, 5000, 5001):
            needs = Needs(users=u, interactionz=c)
            if needs.empty():
                continue
            expected = next(p for p in order if fits(p, needs))
            plan, alternative = keys(catalogue, needs)
            assert plan == expected, needs
            below = order.index(expected)
            assert alternative == (order[below - 1] if below else None), needs
