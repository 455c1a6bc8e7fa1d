"""What several hubs on one database share (migration 0012), as the ``HubStore`` protocol.

``hubs_sql.py`` implements it in SQL both backends speak; the locks are PostgreSQL's advisory
locks (``pg_locks.py``) and always granted on SQLite, which has one hub per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

__all__ = ["NEVER", "AuthMark", "HubStore", "RhythmRow"]

# ``due_at`` of a system that is stale: nothing to do for it until it pushes again.
NEVER = 1e18


@dataclass(frozen=True, slots=True)
class RhythmRow:
    """A pushing system's rhythm: ``intervals`` None until read from its snapshots."""

    system_id: int
    last_seen: float
    intervals: list[float] | None
    due_at: float
    stale_event_id: int | None
    stale_since: float | None
    returned_at: float | None


@dataclass(frozen=True, slots=True)
class AuthMark:
    """A failed (or, clearing the failures, a successful) login of ``credential`` from
    ``address``, as every hub's limiter reads it."""

    id: int
    credential: str
    address: str
    at: float
    succeeded: bool


class HubStore(Protocol):
    # -- staleness

    async def record_seen(self, seen: Sequence[tuple[int, float]], minimum: float) -> None:
        """Submissions of ``(system_id, when)``: their rhythm, written together."""

    async def rhythms_due(self, now: float, limit: int) -> list[RhythmRow]:
        """Rows whose ``due_at`` has come, earliest first (one index range)."""

    async def rhythms(self, ids: Sequence[int] | None = None) -> dict[int, RhythmRow]:
        """The rhythms of ``ids`` (None: every system's)."""

    async def set_rhythm(
        self, system_id: int, *, intervals: list[float] | None, due_at: float, last_seen: float
    ) -> bool:
        """Set the intervals and the next look, unless a submission moved ``last_seen``."""

    async def claim_stale(self, system_id: int, last_seen: float, since: float) -> bool:
        """Mark the system stale unless a submission moved ``last_seen`` or it is already."""

    async def set_stale_event(self, system_id: int, event_id: int | None) -> None: ...

    async def clear_stale(self, system_id: int, stale_since: float, due_at: float) -> bool:
        """End the system's staleness (marked at ``stale_since``); False: not ours to end."""

    async def stale_systems(self) -> dict[int, int | None]:
        """Stale system id -> its STALE event's id (one partial index)."""

    async def counter(self, name: str) -> int: ...

    async def bump_counter(self, name: str) -> None: ...

    # -- failed logins

    async def add_auth_marks(self, marks: Sequence[tuple[str, str, float, bool]]) -> list[int]:
        """``(credential, address, at, succeeded)`` rows; their ids."""

    async def auth_marks_after(self, after_id: int, since: float, limit: int) -> list[AuthMark]:
        """Rows with id > ``after_id`` at or after ``since``, oldest first."""

    async def prune_auth_marks(self, before: float) -> int: ...

    # -- jobs that run once in the fleet

    async def hold_lock(self, name: str) -> bool:
        """Take or keep the fleet-wide lock ``name``; False while another hub holds it. Held
        until this process closes the store or dies (the server then frees it)."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Wait for, hold, then release the lock ``name`` (start-up's seeding)."""

    async def wait_changes(self, channel: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for another process' notice on ``channel``; True if one came
        (PostgreSQL ``LISTEN``; SQLite only sleeps)."""
