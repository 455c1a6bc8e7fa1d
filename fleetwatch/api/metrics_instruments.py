"""The hub's own instruments for ``/metrics``: request latency, submissions, group commits.

They live in a registry of their own (never ``prometheus_client``'s process-wide default, so two
hubs in one process, as in the tests, count apart) and are per hub process: several hubs on one
PostgreSQL are several scrape targets. ``measured`` wraps the hub's ASGI entry point, so every
request is timed in one place, and its family is read from the path once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from fleetwatch.api.asgi import Message, Receive, Scope, Send

__all__ = ["HubInstruments", "family_of"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# (path prefix after the url prefix, family): the first match names the request's family.
FAMILIES = (
    ("/api/4/", "glances"),
    ("/api/external/", "submit_stats"),
    ("/api/command/", "check_result"),
    ("/api/v1/", "v1"),
    ("/api/servers/", "servers"),
    ("/api/status/", "status"),
    ("/api/filter/", "filter"),
    ("/api/config/", "checks_config"),
    ("/systems/", "systems"),
    ("/metrics", "metrics"),
)
SUBMISSIONS = {"submit_stats", "check_result"}
# Writes take milliseconds, a slow query seconds: buckets from 0.5 ms to 10 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)  # fmt: skip


def family_of(path: str) -> str:
    """The API family of a path (the url prefix already removed); ``other`` for the rest."""
    probe = path if path.endswith("/") else path + "/"
    for prefix, family in FAMILIES:
        if probe.startswith(prefix) or path == prefix:
            return family
    return "other"


class HubInstruments:
    """Counters and histograms the hub updates as it works, rendered into ``/metrics``."""

    def __init__(self, url_prefix: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._prefix = url_prefix
        self.requests = Histogram(
            "fleetwatch_http_request_duration_seconds",
            "Time to answer an HTTP request, by API family.",
            ["family"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.submissions = Counter(
            "fleetwatch_submissions",
            "Submissions (statistics, check results) by family, accepted (2xx) or refused.",
            ["family", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.commits = Histogram(
            "fleetwatch_store_commit_duration_seconds",
            "Time one group commit of the store's writer took.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def observe_commit(self, seconds: float) -> None:
        self.commits.observe(seconds)

    def measured(self, app: ASGIApp) -> ASGIApp:
        """``app`` with each HTTP request timed by family, and submissions counted."""

        async def measuring(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path: str = scope["path"]
            family = family_of(path[len(self._prefix) :] if self._prefix else path)
            status = 500  # what the server answers when the app raises before it starts

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            started = time.perf_counter()
            try:
                await app(scope, receive, sending)
            finally:
                self.requests.labels(family).observe(time.perf_counter() - started)
                if family in SUBMISSIONS and scope["method"] in ("POST", "PUT"):
                    outcome = "accepted" if 200 <= status < 300 else "refused"
                    self.submissions.labels(family, outcome).inc()

        return measuring
