"""A stand-in ``apply`` for the group-commit writer's own tests: it records each group, can be
held at a gate, and refuses a group holding a negative op, as a database refuses a bad row."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fleetwatch.store import Conflict


class Recorder:
    """An ``apply`` that records each group, can be held, and refuses negative ops."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, ops: Sequence[int]) -> list[int]:
        self.groups.append(list(ops))
        await self.gate.wait()
        if any(op < 0 for op in ops):
            raise Conflict(f"negative op in {list(ops)}")
        return [op * 10 for op in ops]
