"""Caller ids become one key: E.164, a raw digits key, or anonymous."""

import random

import phonenumbers
import pytest

from identity.numbers import NumberKind, e164_keys, normalize


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


def _reference(text: str) -> str:
    """What phonenumbers itself makes of a `+` number: E.164 when valid, else digits."""
    try:
        parsed = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return text.lstrip("+")
    if not phonenumbers.is_valid_number(parsed):
        return text.lstrip("+")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _e164_samples() -> list[str]:
    """Example numbers of every region and type, as E.164, and near misses of them."""
    rng = random.Random(7)
    samples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
            samples.append("+" + digits)
            for _ in range(8):
                mutated = list(digits)
                for _ in range(rng.randrange(1, 4)):
                    mutated[rng.randrange(len(mutated))] = str(rng.randrange(10))
                cut = rng.choice([0, 0, -1, 1])
                text = "".join(mutated)
                samples.append("+" + (text[:cut] if cut < 0 else text + "5" * cut))
    return samples


def test_the_fast_path_for_e164_text_agrees_with_phonenumbers() -> None:
    samples = _e164_samples()
    assert len(samples) > 10_000
    wrong = [(s, normalize(s).key, _reference(s)) for s in samples if normalize(s).key != _reference(s)]
    assert wrong == []
    valid = [s for s in samples if normalize(s).kind is NumberKind.E164]
    assert len(valid) > 2_000


def test_e164_keys_gives_none_for_what_is_not_a_valid_number() -> None:
    assert e164_keys(["8 916 123-45-67", "12", "unknown", "+49 30 1234567"], "RU") == [
        "+79161234567",
        None,
        None,
        "+49301234567",
    ]
