"""The ``Host`` header of a loopback-bound hub: DNS rebinding defence.

A page on evil.example whose name is made to resolve to 127.0.0.1 reaches a loopback hub
from the visitor's browser with ``Host: evil.example``; the hub answers only to loopback
names (421 otherwise). A ``Host`` that is not one plain ``name[:port]`` (``127.0.0.1:1
evil.com``), or that comes twice, is a 400: which of its names the hub would have been asked
by is anyone's guess, and a proxy in front may have read the other one. Bound elsewhere, the
hub answers any name (a reverse proxy's, a DNS alias); its credentials protect it.

An absolute-form request target (``GET http://evil.com/ HTTP/1.1``) never reaches this check:
both engines drop its authority before the ASGI scope is built and pass the ``Host`` header
on, which is checked as above; the uvicorn engine refuses such a target itself (400), Granian
serves it by its ``Host``.
"""

from __future__ import annotations

import re

from fleetwatch.api.asgi import Scope

__all__ = ["LOOPBACK_NAMES", "host_refusal"]

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
# One name or address and an optional port, nothing else (RFC 9110's uri-host [":" port],
# without the percent-encoded reg-names nobody sends).
_HOST = re.compile(rb"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def host_refusal(scope: Scope, bind: str) -> tuple[int, str] | None:
    """(status, message) when a loopback-bound hub must not answer; None when it may."""
    hosts = [value for key, value in scope.get("headers", ()) if key == b"host"]
    if not hosts:
        return None  # HTTP/1.0 clients: nothing to rebind
    if len(hosts) > 1:
        return 400, "Bad request: more than one Host header"
    raw = bytes(hosts[0])
    if not _HOST.fullmatch(raw):
        return 400, "Bad request: the Host header must be one name[:port]"
    host = raw.decode("latin-1").lower()
    name = host if host.endswith("]") else host.rsplit(":", 1)[0]
    if name in LOOPBACK_NAMES or name.endswith(".localhost") or name == bind:
        return None
    return 421, "Misdirected request: unexpected Host"
