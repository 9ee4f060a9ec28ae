"""Password hashing with argon2id (RFC 9106), and the rules a new password must meet.

Parameters: argon2id, t = 2 passes, m = 19 MiB, p = 1 lane, 16-byte salt, 32-byte hash: the
OWASP Password Storage Cheat Sheet's first recommended configuration (m = 19456 KiB, t = 2,
p = 1). A stored hash made with weaker parameters is re-hashed at the next good sign-in.
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.auth.credentials import new_secret
from app.auth.errors import AccountInputError

TIME_COST: Final = 2
MEMORY_COST_KIB: Final = 19 * 1024
PARALLELISM: Final = 1
MIN_PASSWORD_CHARS: Final = 10
MAX_PASSWORD_CHARS: Final = 1024  # argon2 hashes anything, but a 1 MB "password" is an attack


def password_hasher() -> PasswordHasher:
    """The hasher with the parameters above."""
    return PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_COST_KIB,
        parallelism=PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def check_new_password(password: str) -> None:
    """AccountInputError when `password` is too short or too long to be accepted."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountInputError(
            "password",
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}",
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountInputError(
            "password", f"the password is longer than {MAX_PASSWORD_CHARS} characters"
        )


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) of an accepted new password."""
    check_new_password(password)
    return password_hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches `stored_hash` (False for a malformed hash too)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return password_hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when `stored_hash` was made with other parameters than today's."""
    try:
        return password_hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def unusable_hash() -> str:
    """A hash no password matches (the local user has none): argon2 of a random secret."""

    return password_hasher().hash(new_secret())
