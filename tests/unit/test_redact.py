"""Card numbers and security codes are masked before text goes anywhere; everything else is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.redact import CVV_MASK, Redaction, contains_card_data, redact

# Luhn-valid test numbers published by the card networks and payment processors, 13 to 19 digits.
VALID_PANS = (
    "4111111111111111",  # Visa
    "4242424242424242",  # Visa
    "4000056655665556",  # Visa debit
    "4222222222222",  # Visa, 13 digits
    "5555555555554444",  # Mastercard
    "5500000000000004",  # Mastercard
    "5105105105105100",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex
    "371449635398431",  # Amex
    "6011111111111117",  # Discover
    "6011000990139424",  # Discover
    "30569309025904",  # Diners, 14 digits
    "38520000023237",  # Diners, 14 digits
    "3530111333300000",  # JCB
    "3566002020360505",  # JCB
    "6200000000000005",  # UnionPay
    "6304000000000000000",  # Maestro, 19 digits
)


def mask(pan: str) -> str:
    return f"[tarjeta terminada en {pan[-4:]}]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.mark.parametrize("pan", VALID_PANS)
def test_test_numbers_are_luhn_valid(pan: str) -> None:
    assert luhn_valid(pan) and 13 <= len(pan) <= 19


@pytest.mark.parametrize("pan", VALID_PANS)
def test_every_network_is_masked_keeping_the_last_four(pan: str) -> None:
    assert redact(pan) == Redaction(mask(pan), 1, False)


@pytest.mark.parametrize(
    ("text", "last4"),
    [
        ("4111 1111 1111 1111", "1111"),
        ("4111-1111-1111-1111", "1111"),
        ("4111111111111111", "1111"),
        ("3782 822463 10005", "0005"),  # Amex grouping 4-6-5
        ("3782-822463-10005", "0005"),
        ("5500 0000 0000 0004", "0004"),
        ("3056 930902 5904", "5904"),  # Diners grouping 4-6-4
        ("4111 1111-1111 1111", "1111"),  # mixed separators
        ("6304 0000 0000 0000 000", "0000"),  # 19 digits
    ],
)
def test_spaces_and_dashes_between_groups(text: str, last4: str) -> None:
    assert redact(text) == Redaction(f"[tarjeta terminada en {last4}]", 1, False)


def test_number_embedded_in_a_spanish_sentence() -> None:
    found = redact("mi tarjeta es 4111111111111111, vence 12/27")
    assert found == Redaction("mi tarjeta es [tarjeta terminada en 1111], vence 12/27", 1, False)


def test_text_around_the_number_is_kept_verbatim() -> None:
    text = "Hola 👋, ¿puedo pagar con la 5555 5555 5555 4444? Gracias — Ana"
    assert redact(text).text == "Hola 👋, ¿puedo pagar con la [tarjeta terminada en 4444]? Gracias — Ana"


def test_several_cards_in_one_message() -> None:
    found = redact("Tengo la 4111 1111 1111 1111 y la 378282246310005; ¿cuál uso? O la 6011-1111-1111-1117")
    assert found.cards == 3
    assert found.text == (
        "Tengo la [tarjeta terminada en 1111] y la [tarjeta terminada en 0005]; ¿cuál uso?"
        " O la [tarjeta terminada en 1117]"
    )


def test_cards_joined_by_a_separator_are_both_masked() -> None:
    found = redact("4111111111111111 4242424242424242")
    assert found == Redaction("[tarjeta terminada en 1111] [tarjeta terminada en 4242]", 2, False)


def test_card_next_to_another_number_in_the_same_run() -> None:
    assert redact("pedido 12 4111 1111 1111 1111").text == "pedido 12 [tarjeta terminada en 1111]"


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # one digit off: fails Luhn
        "4111 1111 1111 1112",
        "1234567890123",  # order number
        "pedido 1234567890123 enviado",
        "+52 55 1234 5678",  # phone numbers
        "+34 612 345 678",
        "llámame al 55-1234-5678",
        "ZCC-100002",  # contract number
        "contrato ZCC-100002 del 2024-05-01",
        "123456789012",  # 12 digits: too short even if it were valid
        "41111111111111111111",  # 20 digits: too long
        "4111.1111.1111.1111",  # dots are not card separators
        "4111  1111  1111  1111",  # double spaces split the groups apart
        "",
    ],
)
def test_numbers_that_are_not_cards_are_unchanged(text: str) -> None:
    assert redact(text) == Redaction(text, 0, False)
    assert not contains_card_data(text)


def test_fullwidth_and_other_unicode_digits_are_recognised() -> None:
    assert redact("tarjeta ４１１１ １１１１ １１１１ １１１１").text == "tarjeta [tarjeta terminada en 1111]"
    arabic_indic = "٤١١١١١١١١١١١١١١١"
    assert redact(arabic_indic) == Redaction(mask("4111111111111111"), 1, False)
    assert redact("4111\u00a01111\u20131111\u00a01111").cards == 1  # no-break space and en dash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tarjeta 4111111111111111 cvv 123", f"tarjeta [tarjeta terminada en 1111] cvv {CVV_MASK}"),
        ("cvv 123", f"cvv {CVV_MASK}"),
        ("CVV: 123", f"CVV: {CVV_MASK}"),
        ("mi cvc es 1234", f"mi cvc es {CVV_MASK}"),
        ("cvc: 1234", f"cvc: {CVV_MASK}"),
        ("cvv2 321", f"cvv2 {CVV_MASK}"),
        ("el código de seguridad 123", f"el código de seguridad {CVV_MASK}"),
        ("codigo de seguridad: 987", f"codigo de seguridad: {CVV_MASK}"),
        ("csc 555", f"csc {CVV_MASK}"),
        ("visa, codigo 123", f"visa, codigo {CVV_MASK}"),
        ("mi tarjeta vence 08/26, seg 123", f"mi tarjeta vence 08/26, seg {CVV_MASK}"),
        ("Mastercard cód. seg. 456", f"Mastercard cód. seg. {CVV_MASK}"),
        ("ＣＶＶ １２３", f"ＣＶＶ {CVV_MASK}"),  # fullwidth keyword and digits
    ],
)
def test_security_codes_after_a_keyword(text: str, expected: str) -> None:
    found = redact(text)
    assert found.text == expected and found.cvv
    assert contains_card_data(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111111111111111 12/27 123", f"[tarjeta terminada en 1111] 12/27 {CVV_MASK}"),
        ("4111 1111 1111 1111, 12/2027, 1234", f"[tarjeta terminada en 1111], 12/2027, {CVV_MASK}"),
        ("4111 1111 1111 1111 12-27 123", f"[tarjeta terminada en 1111] 12-27 {CVV_MASK}"),
        ("4111111111111111 vence 1/28 999", f"[tarjeta terminada en 1111] vence 1/28 {CVV_MASK}"),
        # Without the expiry a bare code right after the card is still most likely the CVV.
        ("4111111111111111 123", f"[tarjeta terminada en 1111] {CVV_MASK}"),
    ],
)
def test_bare_code_after_a_card_and_expiry(text: str, expected: str) -> None:
    assert redact(text) == Redaction(expected, 1, True)


@pytest.mark.parametrize(
    "text",
    [
        "codigo 123",  # no card data around: an ordinary code
        "el código de mi pedido es 123",
        "seg 123",
        "cvv 12",  # too short
        "cvv 12345",  # too long
        "tarjeta, código postal 06700",
        "mi tarjeta vence 12/27",  # the expiry alone is not secret
        "tarjeta 4111111111111111 12/27",
    ],
)
def test_codes_that_are_not_security_codes_are_kept(text: str) -> None:
    assert not redact(text).cvv
    assert CVV_MASK not in redact(text).text


def test_huge_input_of_digits_and_spaces_completes() -> None:
    # Catastrophic backtracking would never return here; the assertion is that it does.
    text = "1 " * 100_000
    assert redact(text) == Redaction(text, 0, False)
    assert redact("4" * 200_000).cards == 0
    assert redact("tarjeta cvv " * 20_000).text == "tarjeta cvv " * 20_000


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact("tarjeta 4111 1111 1111 1111 12/27 123, cvv 456").text
    assert redact(once) == Redaction(once, 0, False)


# Property: any Luhn-valid number, however separated, never survives redaction in any form.
_FILLER = st.text(st.characters(codec="utf-8"), max_size=30)
_BEFORE = st.sampled_from(["a ", "es: ", "(", "\n", "¿", "tarjeta ", "x"])
_AFTER = st.sampled_from([" y", ".", ", ", ")", "\n", " vence", "?"])
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def luhn_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + check


@given(
    number=luhn_numbers(),
    separators=st.lists(st.sampled_from(["", "", "", " ", "-"]), min_size=18, max_size=18),
    fullwidth=st.booleans(),
    before=st.tuples(_FILLER, _BEFORE).map("".join),
    after=st.tuples(_AFTER, _FILLER).map("".join),
)
def test_any_valid_number_is_masked(
    number: str, separators: list[str], fullwidth: bool, before: str, after: str
) -> None:
    written = number[0] + "".join(sep + digit for sep, digit in zip(separators, number[1:], strict=False))
    if fullwidth:
        written = written.translate(_FULLWIDTH)
    found = redact(before + written + after)
    assert number not in found.text
    assert written not in found.text
    assert number.translate(_FULLWIDTH) not in found.text
    assert number[-4:] in found.text
    assert found.cards >= 1
    assert contains_card_data(before + written + after)


_PIECES = st.sampled_from([*"0123456789 -/:,", "cvv", "tarjeta", "seg", "12/27", "4111111111111111"])


@given(st.lists(_PIECES, max_size=60).map("".join))
def test_redaction_is_idempotent_and_leaves_no_card(text: str) -> None:
    once = redact(text)
    assert redact(once.text) == Redaction(once.text, 0, False)
