"""Reading a request's credential from its headers, in the wire forms the reference docs use.

* ``Authorization: Basic`` with ``user:password`` (OP5), or an empty user and a token as the
  password (TrueCommand's ``curl -u ":$TOKEN"``);
* ``X-User-Id`` + ``X-Auth-Token`` from ``POST /api/v1/login`` (Rocket.Chat);
* ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from fleetwatch.api.errors import Unauthorized
from fleetwatch.auth.secrets import SYSTEM_TOKEN_PREFIX

__all__ = [
    "Credential",
    "LoginToken",
    "Password",
    "Token",
    "parse_credential",
    "raw_credential",
    "read_credential",
]


@dataclass(frozen=True, slots=True)
class Password:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Token:
    secret: str


@dataclass(frozen=True, slots=True)
class LoginToken:
    user_id: str
    secret: str


Credential = Password | Token | LoginToken


def raw_credential(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The credential headers' raw bytes, tagged by form: what the credential cache hashes.

    No decoding here: on the hot path a known credential costs this scan and one hash.
    """
    authorization = user_id = auth_token = None
    for key, value in headers:
        if key == b"authorization":
            authorization = value
        elif key == b"x-user-id":
            user_id = value
        elif key == b"x-auth-token":
            auth_token = value
    if authorization is not None:
        return b"a\0" + bytes(authorization)
    if user_id is not None or auth_token is not None:
        return b"l\0" + bytes(user_id or b"") + b"\0" + bytes(auth_token or b"")
    return None


def parse_credential(raw: bytes) -> Credential:
    """Decode what ``raw_credential`` returned; ``Unauthorized`` when it is malformed."""
    if raw.startswith(b"a\0"):
        return _authorization(raw[2:])
    user_id, _, auth_token = raw[2:].partition(b"\0")
    if not user_id or not auth_token:
        raise Unauthorized("X-User-Id and X-Auth-Token go together")
    return LoginToken(_text(user_id), _text(auth_token))


def read_credential(headers: Iterable[tuple[bytes, bytes]]) -> Credential | None:
    """The credential a request carries, None without one; ``Unauthorized`` when malformed."""
    raw = raw_credential(headers)
    return None if raw is None else parse_credential(raw)


def _authorization(value: bytes) -> Credential:
    scheme, _, rest = value.strip().partition(b" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme == b"bearer" and rest:
        return Token(_text(rest))
    if scheme == b"basic" and rest:
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        user, colon, password = decoded.partition(":")
        if not colon or not password:
            raise Unauthorized("malformed Basic credentials")
        # TrueCommand ignores the user name beside a system token (``curl -u "any:$TOKEN"``);
        # a system token is recognisable by its prefix, so it is never taken for a password.
        if not user or password.startswith(SYSTEM_TOKEN_PREFIX):
            return Token(password)
        return Password(user, password)
    raise Unauthorized("unsupported Authorization scheme: use Basic or Bearer")


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Unauthorized("credentials must be UTF-8") from None
