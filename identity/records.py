"""The plain values the suggestion index takes and gives: households, questions, answers.

Kept apart from `identity.index` so that callers (the router, the CLI, the
benchmarks) name what they pass and get without the index's storage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HouseholdRecord:
    """What the index knows of a household; numbers are E.164 keys."""

    id: int
    owner: str | None
    members: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    email: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    """A caller (or a household) to find the family of; `exclude` skips its own household.

    `called_after` is behaviour from the ledger: (household id, minutes, that
    household's number) for each household whose number called the same line
    shortly before this caller did.
    """

    numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    email: str = ""
    address: str = ""
    exclude: int | None = None
    called_after: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    household: int
    score: int
    owner: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    """Two existing households that are probably one family, `first` < `second`."""

    first: int
    second: int
    score: int
    reasons: tuple[str, ...]
