"""Failed-login limiting: at most ``max_failures`` per key per window.

``CredentialLimiter`` keys failures by credential *and* address together, so that one client
behind a NAT failing with its own token never stops the other machines behind the same
address, and an attacker guessing a user's password from one place never locks that user out
anywhere else. An address failing with many different credentials (spraying) meets a wider
ceiling per address, which stops passwords it has not used successfully before (argon2 is the
costly check) but never a token (one indexed look-up): a valid token is never locked out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["ADDRESS_FACTOR", "CredentialLimiter", "FailureLimiter"]

# The per-address ceiling, in credentials-worth of failures: spraying, not a typo.
ADDRESS_FACTOR = 10


class FailureLimiter:
    """Sliding-window counts of recent failures, in memory (per hub process)."""

    def __init__(
        self,
        max_failures: int = 10,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until the first of ``keys`` may try again; 0 when none is blocked."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def fail(self, *keys: str, ago: float = 0.0) -> None:
        """A failure of each of ``keys``, ``ago`` seconds before now (another hub's)."""
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            self._sweep(now)
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now - ago)
            if ago and len(times) > 1 and times[-2] > times[-1]:  # keep them in order
                times = self._failures[key] = deque(sorted(times))
            while len(times) > self.max_failures:
                times.popleft()

    def failing(self, key: str) -> bool:
        """Failures of ``key`` are counted (in memory: no store read)."""
        return key in self._failures

    def succeed(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] + self.window <= now:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _sweep(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self._max_keys:
            self._failures.clear()


class CredentialLimiter:
    """Failures per (credential, address) pair and, wider, per address."""

    def __init__(
        self,
        max_failures: int = 10,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_known: int = 100_000,
    ) -> None:
        self.pairs = FailureLimiter(max_failures, window_seconds, clock=clock)
        self.addresses = FailureLimiter(max_failures * ADDRESS_FACTOR, window_seconds, clock=clock)
        self._max_known = max_known
        # Pairs that succeeded: an address's spraying does not stop its own known credentials.
        self._known: set[str] = set()

    def retry_after(self, credential: str, address: str, *, cheap: bool = False) -> float:
        """Seconds before ``credential`` may be tried from ``address`` again; 0: now.

        ``cheap`` credentials (tokens) are limited by their pair only.
        """
        pair = f"{credential}@{address}"
        wait = self.pairs.retry_after(pair)
        if wait == 0 and not cheap and pair not in self._known:
            wait = self.addresses.retry_after(address)
        return wait

    def spraying(self, address: str) -> bool:
        """The address is over its ceiling (its failures are no longer worth auditing)."""
        return self.addresses.retry_after(address) > 0

    def fail(self, credential: str, address: str, *, ago: float = 0.0) -> None:
        self.pairs.fail(f"{credential}@{address}", ago=ago)
        self.addresses.fail(address, ago=ago)

    def failing(self, credential: str, address: str) -> bool:
        return self.pairs.failing(f"{credential}@{address}")

    def succeed(self, credential: str, address: str) -> None:
        pair = f"{credential}@{address}"
        self.pairs.succeed(pair)
        if len(self._known) >= self._max_known:
            self._known.clear()
        self._known.add(pair)
