"""Caller ids become one key: E.164, a raw digits key, or anonymous."""

import pytest

from identity.numbers import NumberKind, normalize


@pytest.mark.parametrize(
    "raw",
    [
        "8 (916) 123-45-67",
        "+7 916 1234567",
        "79161234567",
        "9161234567",
        "8-916-123-45-67 доб. 12",
        "007 916 123 45 67",
        "0079161234567",
        "810 7 916 123 45 67",
    ],
)
def test_every_russian_form_becomes_e164(raw: str) -> None:
    number = normalize(raw)
    assert number.kind is NumberKind.E164
    assert number.key == "+79161234567"


@pytest.mark.parametrize(
    "raw", ["", None, "unknown", "Anonymous", "restricted", "withheld", "PRIVATE", "abc", "  "]
)
def test_withheld_and_wordy_ids_are_anonymous(raw: str | None) -> None:
    number = normalize(raw)
    assert number.is_anonymous
    assert number.key == ""


@pytest.mark.parametrize(("raw", "key"), [("101", "101"), ("+7916123456", "7916123456"), ("1-2-3", "123")])
def test_unparsable_id_is_kept_as_digits(raw: str, key: str) -> None:
    number = normalize(raw)
    assert number.kind is NumberKind.RAW
    assert number.key == key


def test_default_region_is_configurable() -> None:
    assert normalize("030 1234567", "DE").key == "+49301234567"
    assert normalize("+7 916 123 45 67", "DE").key == "+79161234567"


def test_masked_number_shows_only_last_four_digits() -> None:
    assert normalize("+79161234567").masked() == "+*******4567"
    assert normalize("unknown").masked() == "anonymous"
