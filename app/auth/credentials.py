"""Random secrets (session cookies, CSRF tokens, API tokens) and the digests stored for them.

Each secret is 32 random bytes (256 bits), so a single SHA-256 is a sufficient stored form: it
cannot be guessed or brute-forced, unlike a password (`app.auth.passwords`). Comparisons of
secrets the client sends happen on digests or through `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SECRET_BYTES: Final = 32
API_TOKEN_PREFIX: Final = "slt_"  # recognisable in logs and secret scanners
API_TOKEN_SHOWN_CHARS: Final = 12  # the start of a token kept to tell tokens apart in lists


def new_secret() -> str:
    """A fresh URL-safe random secret (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_api_token() -> str:
    """A fresh API token: `slt_` and a random secret."""
    return API_TOKEN_PREFIX + new_secret()


def digest(secret: str) -> str:
    """SHA-256 (hex) of a secret: the only form in which a secret is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """True when `given` equals `expected`, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
