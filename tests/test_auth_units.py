"""The auth building blocks on their own: credential forms, the failure limiter, secrets."""

from __future__ import annotations

import base64

import pytest
from hubs import CHEAP_HASHING

from fleetwatch.api.errors import Unauthorized
from fleetwatch.auth.admin import check_name
from fleetwatch.auth.credentials import LoginToken, Password, Token, read_credential
from fleetwatch.auth.ratelimit import FailureLimiter
from fleetwatch.auth.secrets import SYSTEM_TOKEN_PREFIX, digest, equal, new_token


def basic(text: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Basic " + base64.b64encode(text.encode()))]


def test_credential_forms() -> None:
    assert read_credential([(b"host", b"x")]) is None
    assert read_credential(basic("alice:pa:ss")) == Password("alice", "pa:ss")
    assert read_credential(basic(":fws_abc")) == Token("fws_abc")
    assert read_credential([(b"authorization", b"Bearer fwu_abc")]) == Token("fwu_abc")
    pair = [(b"x-user-id", b"7"), (b"x-auth-token", b"fwu_abc")]
    assert read_credential(pair) == LoginToken("7", "fwu_abc")


@pytest.mark.parametrize(
    "headers",
    [
        [(b"authorization", b"Basic !!!")],
        [(b"authorization", b"Basic " + base64.b64encode(b"no-colon"))],
        [(b"authorization", b"Basic " + base64.b64encode(b"alice:"))],
        [(b"authorization", b"Digest abc")],
        [(b"x-user-id", b"7")],
        [(b"x-auth-token", b"fwu_abc")],
    ],
)
def test_malformed_credentials_are_401(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(Unauthorized):
        read_credential(headers)


def test_failure_limiter_window() -> None:
    now = [1000.0]
    limiter = FailureLimiter(3, 60.0, clock=lambda: now[0])
    limiter.fail("user:a", "addr:1")
    limiter.fail("user:a")
    assert limiter.retry_after("user:a") == 0
    limiter.fail("user:a")
    assert limiter.retry_after("user:a", "addr:1") == pytest.approx(60.0)
    assert limiter.retry_after("addr:1") == 0
    now[0] += 30
    assert limiter.retry_after("user:a") == pytest.approx(30.0)
    now[0] += 31
    assert limiter.retry_after("user:a") == 0
    limiter.fail("user:b")
    limiter.succeed("user:b")
    assert limiter.retry_after("user:b") == 0


def test_tokens_and_hashes() -> None:
    first, second = new_token(SYSTEM_TOKEN_PREFIX), new_token(SYSTEM_TOKEN_PREFIX)
    assert first.secret != second.secret
    assert first.secret.startswith("fws_")
    assert len(first.secret) > 40
    assert first.secret.startswith(first.prefix)
    assert first.digest == digest(first.secret)
    assert first.secret not in first.digest
    assert equal("abc", "abc")
    assert not equal("abc", "abd")
    hashed = CHEAP_HASHING.hash("a password")
    assert hashed.startswith("$argon2id$")
    assert CHEAP_HASHING.verify(hashed, "a password")
    assert not CHEAP_HASHING.verify(hashed, "another")
    assert not CHEAP_HASHING.verify(None, "a password")


@pytest.mark.parametrize("name", ["", "-x", "a b", "a:b", "x" * 65, "é"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid user name"):
        check_name("user", name)
