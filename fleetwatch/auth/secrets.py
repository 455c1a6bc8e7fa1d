"""Password hashing (argon2id) and tokens (high-entropy random, stored as a SHA-256 digest).

A token is ``fws_...`` (a system's) or ``fwu_...`` (a user's: login or personal), so a request
is resolved with one look-up in the right table. The store keeps the digest and a short display
prefix; the secret itself is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "SYSTEM_TOKEN_PREFIX",
    "USER_TOKEN_PREFIX",
    "NewToken",
    "PasswordHashing",
    "digest",
    "equal",
    "new_token",
]

SYSTEM_TOKEN_PREFIX = "fws_"  # noqa: S105 - a label, not a secret
USER_TOKEN_PREFIX = "fwu_"  # noqa: S105
TOKEN_BYTES = 32
DISPLAY_CHARS = 8  # after the kind prefix: enough to tell tokens apart, useless to guess


class NewToken:
    """A freshly made token: the secret (shown once), its digest and display prefix."""

    __slots__ = ("digest", "prefix", "secret")

    def __init__(self, kind_prefix: str) -> None:
        self.secret = kind_prefix + secrets.token_urlsafe(TOKEN_BYTES)
        self.digest = digest(self.secret)
        self.prefix = self.secret[: len(kind_prefix) + DISPLAY_CHARS]


def new_token(kind_prefix: str) -> NewToken:
    return NewToken(kind_prefix)


def digest(secret: str) -> str:
    """SHA-256 of a token (or any credential), hex: what is stored and what caches are keyed by."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def equal(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


class PasswordHashing:
    """argon2id with argon2-cffi's defaults; verification reads the parameters from the hash."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = ""

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; an unknown user (None) costs the same time."""
        if password_hash is None:
            if not self._dummy:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            password_hash = self._dummy
            known = False
        else:
            known = True
        try:
            return self._hasher.verify(password_hash, password) and known
        except (VerificationError, InvalidHashError):
            return False
