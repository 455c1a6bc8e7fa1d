"""Clients behind a reverse proxy (``server.trusted_proxies``): their own address, not the proxy's.

Behind haproxy or nginx every request reaches the hub from the proxy's address, so whatever
the hub keys by address would key them all alike: one client guessing passwords would stop
every other client's password logins (the per-address ceiling of failed logins), and one
client's requests in progress would count against everyone's share. A request whose TCP peer
is a trusted proxy takes its client from ``X-Forwarded-For`` (the nearest address the trusted
proxies did not add themselves) and its scheme from ``X-Forwarded-Proto`` (so a console
session behind a TLS-terminating proxy gets a Secure cookie): uvicorn's middleware for it,
which a hub on Granian uses as plain ASGI. From any other peer the headers are ignored, so a
client cannot choose its own address by sending them.

Such a request is also marked ``fleetwatch.proxied`` in its scope: a hub bound to loopback
behind a proxy answers it whatever Host it names (the proxy serves the public name; the
DNS-rebinding check is for browsers reaching the loopback port itself).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PROXIED", "Network", "TrustedProxies", "parse_trusted_proxies"]

PROXIED = "fleetwatch.proxied"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """``server.trusted_proxies``: comma-separated addresses or networks (``10.0.0.0/8``)."""
    networks = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"server.trusted_proxies: {item[:60]!r} is not an IP address or network"
            ) from None
    return tuple(networks)


class TrustedProxies:
    """ASGI middleware: the forwarded client and scheme for requests from a trusted proxy."""

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)
        # Here, not at the top: uvicorn (1.8 MiB resident) is loaded only by a hub that has
        # trusted proxies (or runs on the uvicorn engine).
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: PLC0415

        self._forwarded = ProxyHeadersMiddleware(
            app,  # type: ignore[arg-type]  # uvicorn's own ASGI types, the same protocol
            trusted_hosts=[str(network) for network in self.networks],
        )

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # a Unix socket's path, or no peer at all
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client or not self.trusted(str(client[0])):
            await self.app(scope, receive, send)
            return
        scope[PROXIED] = True
        await self._forwarded(scope, receive, send)  # type: ignore[arg-type]
