"""Held-out paraphrases through the running engine and action server: the reply states the page's facts.

`paraphrase_facts.yml` pairs messages of the held-out NLU set (never trained on) with the facts a right
answer must state: atoms compared ignoring case, accents and spaces, and «Sí»/«No» first for yes/no
questions. Not only the intent must be right: the answer must carry the catalogue's values.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.store.demo import demo_accounts
from tests.e2e.conftest import Ask, text_of
from tests.e2e.test_dialogue_fuzz import held_out_messages

pytestmark = pytest.mark.e2e

CASES_FILE = Path(__file__).with_name("paraphrase_facts.yml")
# At least this many cases, and this share of them right.
MIN_CASES = 200
MIN_ACCURACY = 0.97


@dataclass(frozen=True)
class Case:
    text: str
    contains: tuple[str, ...]
    starts: str | None
    user: str | None


def cases() -> list[Case]:
    """The cases of paraphrase_facts.yml."""
    raw = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    return [
        Case(str(c["text"]), tuple(str(a) for a in c.get("contains") or ()), c.get("starts"), c.get("user"))
        for c in raw
    ]


def squeeze(text: str) -> str:
    """Lower case, no accents, no spaces: '300 MB' and '300MB' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"\s+", "", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def identities() -> dict[str, dict[str, Any]]:
    """E-mail -> the identity metadata the gateway attaches for that demo user."""
    return {
        user.email: {"identity": {"user_id": user.id, "account_id": account.id}}
        for account in demo_accounts(date.today())
        for user in account.users
    }


def problems(case: Case, reply: str) -> list[str]:
    """What the reply lacks."""
    found = [f"lacks {atom!r}" for atom in case.contains if squeeze(atom) not in squeeze(reply)]
    if case.starts is not None and not squeeze(reply).startswith(squeeze(case.starts)):
        found.append(f"does not start with {case.starts!r}")
    return found


def test_every_case_is_a_held_out_message() -> None:
    held_out = {squeeze(m) for messages in held_out_messages().values() for m in messages}
    missing = [c.text for c in cases() if squeeze(c.text) not in held_out]
    assert not missing
    assert len(cases()) >= MIN_CASES


def test_held_out_paraphrases_get_the_facts_right(ask: Ask) -> None:
    who = identities()

    def run(case: Case) -> tuple[Case, str, list[str]]:
        metadata = who[case.user] if case.user else None
        reply = text_of(ask(case.text, f"e2e-para-{uuid.uuid4().hex[:10]}", metadata))
        return case, reply, problems(case, reply)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases()))
    wrong = [(c, r, p) for c, r, p in results if p]
    accuracy = 1 - len(wrong) / len(results)
    print(
        f"\nheld-out paraphrases through the stack: {len(results) - len(wrong)}/{len(results)} state the "
        f"right facts ({accuracy:.1%})"
    )
    for case, reply, lacks in wrong:
        print(f"  {case.text!r}: {lacks}\n    -> {reply[:200]!r}")
    assert accuracy >= MIN_ACCURACY
