"""The `bot` command: store tasks (create, seed, show the catalogue) and NLU data generation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.answers.text import value_text
from bot.catalogue.loader import load_catalogue
from bot.nlu import generate
from bot.settings import PROJECT_ROOT, get_settings
from bot.store.catalogue_repo import read_catalogue, save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Base

GENERATED_NLU = PROJECT_ROOT / "data" / "nlu" / "generated.yml"


def _create(_: argparse.Namespace) -> int:
    engine = make_engine(get_settings().database_url)
    Base.metadata.create_all(engine)
    print(f"Store ready at {engine.url.render_as_string(hide_password=True)}")
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
    path = Path(args.output)
    changed = generate.write(load_catalogue(), path)
    print(f"{path} {'written' if changed else 'unchanged'}")
    return 0


def _nlu_check(args: argparse.Namespace) -> int:
    path = Path(args.output)
    if not path.exists() or path.read_text(encoding="utf-8") != generate.render(load_catalogue()):
        print(f"{path} is stale: run `bot nlu-generate`", file=sys.stderr)
        return 1
    print(f"{path} matches the catalogue")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    root = argparse.ArgumentParser(prog="bot", description="Store and NLU tasks of the plans assistant.")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="create the store's tables").set_defaults(run=_create)
    commands.add_parser(
        "seed", help="create the store and load the plan catalogue (idempotent)"
    ).set_defaults(run=_seed)
    show = commands.add_parser("show", help="print the catalogue as stored")
    show.add_argument("--feature", help="only this feature (key or name)")
    show.set_defaults(run=_show)
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
