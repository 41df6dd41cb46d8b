"""How much two people, two households or two numbers look like one family.

The points below are the whole scoring policy, in one place so that a change
is one diff and the benchmark's precision and recall move with it. A name
alone is strong only when it is both complete (surname family and given name)
and rare: twenty households of `Иванов Сергей` are not evidence for any one of
them, so a common name loses points (`common_name_penalty`). Numbers close to
each other are weak signals only: a typo or a neighbour on an office PBX.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from identity import reasons as r
from identity.names import (
    PersonName,
    family_stems,
    father_root,
    fold,
    given_gender,
    given_names,
    is_father,
    is_known_given,
    is_short_form,
    parse_name,
    patronymic_stem,
    surname_gender,
)
from identity.reasons import reason

# At or above this score a suggestion is likely: a pair of households to merge, a
# caller's best match in `--recent`, the benchmark's precision and recall.
DEFAULT_THRESHOLD = 60
# At or above this score a caller's suggestion is shown: any surname family match, however
# common the surname (with the count of families sharing it); a number alone is not.
SHOW_THRESHOLD = 30

SURNAME_SAME_FAMILY = 32
# Over the match: the only family of its surname stem in the directory (see `surname_rarity`).
RARE_SURNAME = 28
RARE_SURNAME_STEP = 10
# A man and a woman of one surname family with different given names.
SPOUSE_PAIR = 8
# A patronymic from a member's given name (Иванова Мария Сергеевна, Иванов Сергей): at most.
CHILD_OF_MEMBER = 14
SURNAME_ONE_LETTER_AWAY = 28
SURNAME_NEAR_OTHER_FAMILY = 12
GIVEN_SAME = 32
GIVEN_SIMILAR = 28
PATRONYMIC_SAME = 12
PATRONYMIC_DIFFERENT = -20
SAME_EMAIL = 60
SAME_ADDRESS = 35
NUMBER_NEAR = 15
# The family's number called the same line minutes before, and no other household did.
CALLED_AFTER = 20
# A second person of the query found as another member, by full name.
SECOND_PERSON = 16
COMMON_NAME_MAX_PENALTY = 40
# An email or address on more households than this is an office's or an agency's: no signal.
SHARED_CONTACT_MAX = 5

# Given names closer than this (fuzz.ratio of folded keys) count as a typo of one another.
GIVEN_SIMILAR_CUTOFF = 85
# Surname stems shorter than this must match exactly: one letter in `Kim` is a new family.
TYPO_MIN_STEM = 5

# Words that only say "street", "house", "flat": dropped so `ул. Ленина, д. 5` = `Ленина 5`.
_ADDRESS_NOISE = frozenset(
    (
        "г", "гор", "город", "ул", "улица", "д", "дом", "кв", "квартира", "корп", "корпус",
        "к", "стр", "строение", "пр", "просп", "проспект", "пер", "переулок", "ш", "шоссе",
        "бульвар", "наб", "набережная", "пл", "площадь", "обл", "область", "район",
        "g", "ul", "d", "kv", "korp", "str", "pr", "prosp", "per", "sh", "bul", "nab", "pl", "obl",
    )
)  # fmt: skip
_ADDRESS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NameMatch:
    points: int
    reasons: tuple[str, ...]
    # The (stem, given) key that matched, for the common-name penalty; None without one.
    key: tuple[str, str] | None
    # The father's name both patronymics come from, when they matched.
    patronymic: str | None = None
    # The surname family stem both share, for its rarity; "" for a surname one letter away.
    stem: str = ""
    # The (stem, member's given name) of the father a child's patronymic names.
    father: tuple[str, str] | None = None


NO_MATCH = NameMatch(0, (), None)


@lru_cache(maxsize=100_000)
def stem_of(surname: str) -> str:
    """The one family stem a surname is filed and counted under (the whole, when double)."""
    stems = family_stems(surname) if surname else ()
    return stems[0] if stems else ""


@lru_cache(maxsize=100_000)
def stems_of(surname: str) -> tuple[str, ...]:
    return family_stems(surname) if surname else ()


@lru_cache(maxsize=100_000)
def given_of(given: str) -> frozenset[str]:
    return given_names(fold(given)) if given else frozenset()


@lru_cache(maxsize=100_000)
def father_of(patronymic: str) -> str | None:
    return patronymic_stem(fold(patronymic)) if patronymic else None


@lru_cache(maxsize=100_000)
def gender_of(surname: str, given: str) -> str:
    """A person's sex, "f", "m" or "": the surname's form first, else the given name."""
    last = fold(surname.rsplit("-", 1)[-1]) if surname else ""
    return surname_gender(last) or given_gender(given_of(given))


def given_as(given: str, gender: str) -> frozenset[str]:
    """The full names a given name stands for, narrowed to the person's sex when it
    tells (Женя Горбунова is Евгения, Женя Горбунов is Евгений)."""
    fulls = given_of(given)
    if not gender or len(fulls) < 2:
        return fulls
    narrowed = frozenset(f for f in fulls if given_gender(frozenset((f,))) == gender)
    return narrowed or fulls


def compare_names(query: PersonName, member: PersonName, known_stems: Container[str] = ()) -> NameMatch:
    """Points for two people being one person or one family, with the reasons why.

    A surname one letter away from the member's is a typo when nobody in the
    directory has the surname as typed (`known_stems`); when somebody has,
    it is more likely another family, and counts for little. Two people of one
    surname family and of different sexes with different given names are a
    couple (`spouse`), unless the one's patronymic comes from the other's
    given name (`patronymic from a member`: a child).
    """
    q_stems, m_stems = stems_of(query.surname), stems_of(member.surname)
    if not q_stems or not m_stems:
        return NO_MATCH
    shared_stems = [s for s in q_stems if s in m_stems]
    stem = ""
    if shared_stems:
        stem = shared_stems[0]
        points, reasons = (
            SURNAME_SAME_FAMILY,
            [_surname_reason(query.surname, member.surname, q_stems, m_stems)],
        )
    elif one_letter_away(q_stems[0], m_stems[0]):
        reasons = [reason(r.SURNAME_TYPO, query=query.surname, member=member.surname)]
        if q_stems[0] in known_stems:
            # Another family of the directory has the surname as typed: a namesake of this
            # member in that family is likelier than a typo, so the given name adds nothing.
            return NameMatch(SURNAME_NEAR_OTHER_FAMILY, tuple(reasons), None)
        points = SURNAME_ONE_LETTER_AWAY
    else:
        return NO_MATCH
    q_gender, m_gender = gender_of(query.surname, query.given), gender_of(member.surname, member.given)
    q_given, m_given = given_as(query.given, q_gender), given_as(member.given, m_gender)
    two_people = bool(q_gender and m_gender and q_gender != m_gender)
    if stem and query.patronymic and m_gender != "f" and not q_given & m_given:
        root = father_root(fold(query.patronymic))
        fathers = [g for g in m_given if root and is_father(root, g)]
        if fathers:
            points += CHILD_OF_MEMBER
            reasons.append(reason(r.CHILD, query=query.patronymic, member=member.given))
            return NameMatch(points, tuple(reasons), None, stem=stem, father=(stem, fathers[0]))
    if two_people:
        if stem and q_given and m_given and not q_given & m_given:
            points += SPOUSE_PAIR
            reasons.append(reason(r.SPOUSE, query=_full(query), member=_full(member)))
        # A wife and her husband are two people, whatever their given names.
        return NameMatch(points, tuple(reasons), None, stem=stem)
    shared = sorted(q_given & m_given)
    key = None
    if shared:
        points += GIVEN_SAME
        reasons.append(_given_reason(query.given, member.given))
        key = (stem or m_stems[0], shared[0])
    elif q_given and m_given and _typo_of_given(query.given, member.given):
        points += GIVEN_SIMILAR
        reasons.append(reason(r.GIVEN_SIMILAR, query=query.given, member=member.given))
        key = (stem or m_stems[0], min(m_given))
    father = None
    if key is not None and query.patronymic and member.patronymic:
        father = father_of(member.patronymic)
        if father_of(query.patronymic) == father:
            points += PATRONYMIC_SAME
            reasons.append(reason(r.SAME_PATRONYMIC, query=query.patronymic, member=member.patronymic))
        else:
            father = None
            points += PATRONYMIC_DIFFERENT
            reasons.append(reason(r.DIFFERENT_PATRONYMIC, query=query.patronymic, member=member.patronymic))
    return NameMatch(points, tuple(reasons), key, father, stem=stem)


def best_name_matches(
    query: tuple[PersonName, ...], members: tuple[PersonName, ...], known_stems: Container[str] = ()
) -> tuple[NameMatch, NameMatch]:
    """The best match of a queried person to a member, and the best of another queried
    person to another member by full name (a caller who also named the spouse), or NO_MATCH."""
    found = sorted(
        (
            (compare_names(q, m, known_stems), qi, mi)
            for qi, q in enumerate(query)
            for mi, m in enumerate(members)
        ),
        key=lambda f: -f[0].points,
    )
    if not found or found[0][0].points <= 0:
        return NO_MATCH, NO_MATCH
    best, best_q, best_m = found[0]
    second = next(
        (m for m, qi, mi in found[1:] if qi != best_q and mi != best_m and m.key is not None),
        NO_MATCH,
    )
    return best, second


def surname_rarity(other_families: int) -> int:
    """Points for a surname family this rare in the directory (the term-frequency
    adjustment of a Fellegi–Sunter model): the only family of its surname earns the
    most, one shared by six others or more earns nothing over the match itself."""
    return max(0, round(RARE_SURNAME - RARE_SURNAME_STEP * math.log2(other_families + 1)))


def father_rarity(other_families: int) -> int:
    """What a child's patronymic is worth when this many other families of the surname
    have a member of the father's given name."""
    return max(0, round(CHILD_OF_MEMBER - CHILD_OF_MEMBER / 2 * math.log2(other_families + 1)))


def common_name_penalty(households_with_name: int) -> int:
    """Points off a name shared by this many other households: it no longer points at one.

    "Shared" counts the households whose member matches as well as this one
    did: the same surname family and given name, and, when the patronymic was
    part of the match, the same patronymic or none written. One namesake
    already takes a full-name match below the default threshold: the index
    cannot tell which of two Ivanova Maria Petrovna is the caller.
    """
    if households_with_name <= 0:
        return 0
    return min(COMMON_NAME_MAX_PENALTY, 17 + round(8 * math.log2(households_with_name)))


def called_after_points(households_in_window: int) -> int:
    """Points for having called a line right after a family's number did, when this many
    households called it in that window: on a busy line, closeness in time says little."""
    if households_in_window <= 0:
        return 0
    return max(0, round(CALLED_AFTER - 8 * math.log2(households_in_window)))


def one_letter_away(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours apart, for stems long
    enough to tell."""
    if min(len(a), len(b)) < TYPO_MIN_STEM:
        return False
    return OSA.distance(a, b, processor=None, score_cutoff=1) <= 1


def number_relation(query: str, known: str) -> str | None:
    """How two different E.164 numbers are related, as a reason, or None when they are not."""
    if query == known or len(query) != len(known) or not known.startswith("+"):
        return None
    diffs = [i for i, (a, b) in enumerate(zip(query, known, strict=True)) if a != b]
    if len(diffs) == 1 or (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and query[diffs[0]] == known[diffs[1]]
        and query[diffs[1]] == known[diffs[0]]
    ):
        return reason(r.NUMBER_ONE_DIGIT, number=known)
    if query[:-2] == known[:-2]:
        return reason(r.NUMBER_BLOCK, number=known)
    return None


def email_key(email: str) -> str:
    return email.strip().lower()


def address_key(address: str) -> str:
    """An address as a bag of folded words and numbers, without `ул.`, `д.`, `кв.` and order."""
    words = []
    for token in _ADDRESS_TOKEN.findall(address.lower().replace("ё", "е")):
        if token in _ADDRESS_NOISE:
            continue
        words.append(token if token.isdigit() else fold(token))
    words = sorted(w for w in words if w)
    if len(words) < 3 or not any(w.isdigit() for w in words):
        return ""  # a city or a street alone is no family's address
    return " ".join(words)


def parse_names(names: tuple[str, ...]) -> tuple[PersonName, ...]:
    return tuple(p for p in (parse_name(n) for n in names) if p.surname or p.given)


def _typo_of_given(a: str, b: str) -> bool:
    """Close spellings where one is no known name: Andrje ~ Андрей, but not Мария ~ Марина."""
    fa, fb = fold(a), fold(b)
    if is_known_given(fa) and is_known_given(fb):
        return False
    return fuzz.ratio(fa, fb, processor=None, score_cutoff=GIVEN_SIMILAR_CUTOFF) > 0


def _full(person: PersonName) -> str:
    return " ".join(p for p in (person.surname, person.given) if p)


def _surname_reason(query: str, member: str, q_stems: tuple[str, ...], m_stems: tuple[str, ...]) -> str:
    if fold(query) == fold(member):
        return (
            reason(r.SAME_SURNAME, member=member)
            if query == member
            else reason(r.SURNAME, query=query, member=member)
        )
    if len(q_stems) > 1 or len(m_stems) > 1:
        return reason(r.DOUBLE_SURNAME, query=query, member=member)
    return reason(r.SURNAME_FAMILY, query=query, member=member)


def _given_reason(query: str, member: str) -> str:
    if query == member:
        return reason(r.SAME_GIVEN, member=member)
    if is_short_form(fold(query)) or is_short_form(fold(member)):
        return reason(r.SHORT_FORM, query=query, member=member)
    return reason(r.GIVEN, query=query, member=member)
