"""Passwords stored as argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from router.errors import N_, InvalidInput

MIN_LENGTH = 8
_HASHER = PasswordHasher()
# Verified against when the login does not exist, so that a wrong login and a
# wrong password take the same time and cannot be told apart.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def check_new(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(N_("a password needs at least %(length)s characters"), length=MIN_LENGTH)


def hash_password(password: str) -> str:
    check_new(password)
    return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
