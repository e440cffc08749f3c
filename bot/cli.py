"""The `bot` command: store tasks (create, seed, show the catalogue) and NLU data generation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.answers.text import value_text
from bot.catalogue.loader import load_catalogue
from bot.gateway import tokens
from bot.nlu import generate
from bot.review import export
from bot.settings import PROJECT_ROOT, get_settings
from bot.store import history, migrate
from bot.store.catalogue_repo import read_catalogue, save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.demo import demo_users, seed_demo
from bot.store.models import User
from bot.store.review import LABELLED, reviewed

GENERATED_NLU = PROJECT_ROOT / "data" / "nlu" / "generated.yml"
# The synthetic history `bot seed` adds, so the insights page has something to show.
DEMO_CONVERSATIONS = 1500
DEMO_DAYS = 30


def _generated(nlu_path: Path) -> dict[Path, str]:
    """Every generated training file and the content it must have."""
    return {
        nlu_path: generate.render(load_catalogue()),
    }


def _create(_: argparse.Namespace) -> int:
    engine = make_engine(get_settings().database_url)
    migrate.upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    print(f"Store ready at {where} (schema {migrate.current_revision(engine)})")
    return 0


def _seed(args: argparse.Namespace) -> int:
    _create(args)
    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    catalogue = load_catalogue()
    with sessions.begin() as session:
        changed = save_catalogue(session, catalogue)
    state = "loaded" if changed else "already up to date"
    print(
        f"Catalogue {state}: {len(catalogue.plans)} plans, {len(catalogue.features)} features, "
        f"{len(catalogue.channels)} channels"
    )
    if not args.no_demo:
        with sessions.begin() as session:
            accounts = seed_demo(session)
        print(f"Demo data: {len(accounts)} accounts, dated relative to today (see `bot demo-users`)")
        with sessions.begin() as session:
            messages, handoffs = history.add(
                session.connection(), DEMO_CONVERSATIONS, DEMO_DAYS, datetime.now(UTC)
            )
        print(
            f"Demo history (synthetic, marked {history.MARK}*): {DEMO_CONVERSATIONS} conversations over "
            f"{DEMO_DAYS} days, {messages} messages, {handoffs} hand-offs (see /insights)"
        )
    return 0


def _demo_users(_: argparse.Namespace) -> int:
    print(f"{'email':<36} {'phone':<15} {'verified':<8} {'profile':<7} account")
    for user in demo_users():
        verified = "yes" if user.phone_verified else "no"
        print(f"{user.email:<36} {user.phone or '-':<15} {verified:<8} {user.profile:<7} {user.account}")
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == args.email)).one_or_none()
    if user is None:
        print(f"No user with email {args.email}", file=sys.stderr)
        return 1
    print(tokens.mint(user.id, user.account_id, user.profile, user.name, settings, args.minutes))
    return 0


def _show(args: argparse.Namespace) -> int:
    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    with sessions() as session:
        catalogue = read_catalogue(session)
    plans = catalogue.plans
    for section in catalogue.sections:
        print(f"\n== {section}")
        for feature in (f for f in catalogue.features if f.section == section):
            if args.feature and args.feature not in (feature.key, feature.name):
                continue
            print(f"{feature.name} [{feature.key}]")
            for plan in plans:
                print(f"    {plan.name:<13} {value_text(feature, feature.values[plan.key])}")
    return 0


def _nlu_generate(args: argparse.Namespace) -> int:
    for path, text in _generated(Path(args.output)).items():
        print(f"{path} {'written' if generate.write(path, text) else 'unchanged'}")
    return 0


def _nlu_check(args: argparse.Namespace) -> int:
    stale = [
        p
        for p, text in _generated(Path(args.output)).items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    for path in stale:
        print(f"{path} is stale: run `bot nlu-generate`", file=sys.stderr)
    if not stale:
        print("Generated training data matches the catalogue and the rules")
    return 1 if stale else 0


def _review_export(args: argparse.Namespace) -> int:
    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    intents, _ = export.domain_names()
    out_of_scope = export.OUT_OF_SCOPE if export.OUT_OF_SCOPE in intents else None
    with sessions() as session:
        items = reviewed(session)
    examples = [
        export.Example(item.text, item.intent or "", tuple(item.entities))
        if item.status == LABELLED
        else export.Example(item.text, out_of_scope or "")
        for item in items
    ]
    try:
        count = export.export([e for e in examples if e.intent], Path(args.output))
    except ValueError as refusal:
        print(refusal, file=sys.stderr)
        return 2
    print(f"{count} reviewed examples in {args.output} ({len(items)} reviewed messages in the store)")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    root = argparse.ArgumentParser(prog="bot", description="Store and NLU tasks of the plans assistant.")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="create or upgrade the store's schema (migrations)").set_defaults(
        run=_create
    )
    seed = commands.add_parser(
        "seed", help="create the store, load the catalogue, the demo accounts and 30 days of demo history"
    )
    seed.add_argument(
        "--no-demo", action="store_true", help="load the catalogue only (no demo accounts or history)"
    )
    seed.set_defaults(run=_seed)
    token = commands.add_parser("token", help="print a signed webchat token for a user of the store")
    token.add_argument("--email", required=True)
    token.add_argument("--minutes", type=int, default=60)
    token.set_defaults(run=_token)
    commands.add_parser("demo-users", help="list the demo users to try each flow").set_defaults(
        run=_demo_users
    )
    show = commands.add_parser("show", help="print the catalogue as stored")
    show.add_argument("--feature", help="only this feature (key or name)")
    show.set_defaults(run=_show)
    review = commands.add_parser(
        "review-export", help="write the reviewed not-understood messages as NLU training examples"
    )
    review.add_argument("--output", default=str(export.REVIEWED_NLU))
    review.set_defaults(run=_review_export)
    for name, run, text in (
        ("nlu-generate", _nlu_generate, "write the catalogue-derived NLU data"),
        ("nlu-check", _nlu_check, "fail when the generated NLU data is stale"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--output", default=str(GENERATED_NLU))
        sub.set_defaults(run=run)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bot` command."""
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
