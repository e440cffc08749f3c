"""Grouping what the assistant missed, the training file the review writes, and how a satisfaction answer is
read (pure functions: no store, no gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.answers import csat
from bot.answers.csat import Rating, is_question, read_rating
from bot.gateway.csat import BUTTONS
from bot.gateway.render import for_text_channel
from bot.review.export import Example, export, merge, read_examples, render, unmarked
from bot.review.grouping import group, key


def test_messages_that_read_alike_share_a_group_largest_first() -> None:
    texts = [
        "hola",
        "cuanto sale el expert",
        "como cancelo mi cuenta",
        "cuánto sale el Expert?",
        "sale cuanto el expert",
        "cuanto sale el expret",
        "cancelar mi cuenta como",
    ]
    groups = group(list(range(len(texts))), texts)
    assert [(g.leader, [texts[i] for i in g.members]) for g in groups] == [
        ("cuanto sale el expert", [texts[1], texts[3], texts[4], texts[5]]),
        ("como cancelo mi cuenta", [texts[2], texts[6]]),
        ("hola", ["hola"]),
    ]


def test_function_words_do_not_make_messages_alike() -> None:
    assert key("¿Qué es lo que hay?") == "hay"
    assert key("que es") == "que es"  # nothing but function words: all of them
    assert len(group([1, 2], ["que es el plan expert", "que es el canal whatsapp"])) == 2


def test_an_example_in_rasa_markup() -> None:
    example = Example(
        "cuanto sale el Expert con [tarjeta terminada en 1234]",
        "ask_price",
        ({"entity": "plan", "start": 15, "end": 21},),
    )
    assert example.markup() == "cuanto sale el [Expert](plan) con (tarjeta terminada en 1234)"
    assert unmarked(example.markup()) == "cuanto sale el expert con tarjeta terminada en 1234"


def test_merge_keeps_the_file_updates_relabelled_texts_and_leaves_out_known_ones() -> None:
    existing = {"ask_price": ["cuanto sale el [expert](plan)", "y el precio?"]}
    reviewed = [
        Example("Y el precio?", "follow_up"),  # relabelled: the new intent wins
        Example("asdf qwer", "out_of_scope"),
        Example("hola", "greet"),  # already in the training data
    ]
    merged = merge(existing, reviewed, excluded={"hola"})
    assert merged == {
        "ask_price": ["cuanto sale el [expert](plan)"],
        "follow_up": ["Y el precio?"],
        "out_of_scope": ["asdf qwer"],
    }


def test_of_two_messages_that_fold_alike_the_one_with_entities_is_kept() -> None:
    marked = Example("Cuánto sale el Expert??", "ask_price", ({"entity": "plan", "start": 15, "end": 21},))
    plain = Example("cuanto sale el expert", "ask_price")
    assert merge({}, [marked, plain], set()) == {"ask_price": ["Cuánto sale el [Expert](plan)??"]}
    assert merge({}, [marked, Example("cuanto sale el expert", "compare_plans")], set()) == {
        "compare_plans": ["cuanto sale el expert"]  # relabelled: the later intent wins
    }


def test_the_file_is_valid_rasa_yaml_written_once_and_never_into_the_test_set(tmp_path: Path) -> None:
    training, held_out = tmp_path / "data", tmp_path / "tests"
    training.mkdir()
    held_out.mkdir()
    (training / "intents.yml").write_text(render({"greet": ["hola"]}), encoding="utf-8")
    (held_out / "test.yml").write_text(render({"ask_price": ["y cuanto cuesta"]}), encoding="utf-8")
    output = training / "reviewed.yml"
    reviewed = [
        Example("Hola!", "greet"),  # trained on already
        Example("y cuanto cuesta", "ask_price"),  # a test example: never trained on
        Example("cuanto sale el Expert", "ask_price", ({"entity": "plan", "start": 15, "end": 21},)),
        Example("quiero pizza", "out_of_scope"),
    ]
    assert export(reviewed, output, training, held_out) == 2
    data = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    assert [(b["intent"], b["examples"]) for b in data["nlu"]] == [
        ("ask_price", "- cuanto sale el [Expert](plan)\n"),
        ("out_of_scope", "- quiero pizza\n"),
    ]
    before = output.stat().st_mtime_ns
    assert export(reviewed, output, training, held_out) == 2
    assert output.stat().st_mtime_ns == before  # unchanged: not even rewritten
    assert read_examples(output) == {
        "ask_price": ["cuanto sale el [Expert](plan)"],
        "out_of_scope": ["quiero pizza"],
    }
    with pytest.raises(ValueError, match="held-out"):
        export(reviewed, held_out / "reviewed.yml", training, held_out)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", Rating(5)),
        ("  4 ", Rating(4)),
        ("le doy un 3", Rating(3)),
        ("5/5", Rating(5)),
        ("2 de 5", Rating(2)),
        ("4 estrellas", Rating(4)),
        ("cinco", Rating(5)),
        ("⭐⭐⭐", Rating(3)),
        ("1, nadie me ayudó", Rating(1, "nadie me ayudó")),
        ("4. Muy rápido", Rating(4, "Muy rápido")),
    ],
)
def test_a_rating_is_read_from_a_number_a_phrase_or_stars(text: str, rating: Rating) -> None:
    assert read_rating(text) == rating


@pytest.mark.parametrize("text", ["6", "0", "15", "quiero 5 usuarios", "1 usuario", "ZCC-1234", "hola", ""])
def test_anything_else_is_not_a_rating(text: str) -> None:
    assert read_rating(text) is None


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("¿cuánto cuesta el expert?", True),
        ("como agrego una tarjeta", True),
        ("quiero cancelar mi contrato", True),
        ("hola otra vez", True),
        ("necesito una factura", True),
        ("la agente fue muy amable", False),
        ("tardaron mucho en contestar", False),
    ],
)
def test_a_question_or_a_new_request_is_never_a_comment(text: str, asks: bool) -> None:
    assert is_question(text) is asks


def test_where_the_options_become_a_numbered_list_option_n_is_rating_n() -> None:
    [shown] = for_text_channel([{"text": csat.QUESTION, "buttons": BUTTONS}]).texts
    for n in range(1, 6):
        line = next(line for line in shown.splitlines() if line.startswith(f"{n}. "))
        picked = read_rating(line.removeprefix(f"{n}. "))
        assert picked == Rating(n) == read_rating(str(n))  # the option's words are not a comment
