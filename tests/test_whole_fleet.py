"""The whole fleet's bodies (count=0): one build per second per query, shared by whoever asks
while it is built; an error is raised to every asker and not kept."""

from __future__ import annotations

import asyncio

import pytest

from fleetwatch.api.whole_fleet import WholeBodies

pytestmark = pytest.mark.anyio


class Builder:
    def __init__(self) -> None:
        self.builds = 0
        self.gate = asyncio.Event()
        self.fail = False

    async def __call__(self) -> int:
        self.builds += 1
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("store went away")
        return self.builds


async def test_askers_during_a_build_share_it_and_later_ones_reuse_it() -> None:
    bodies: WholeBodies[int] = WholeBodies(seconds=60)
    build = Builder()
    askers = [asyncio.create_task(bodies.get(b"q", build)) for _ in range(5)]
    await asyncio.sleep(0)
    build.gate.set()
    assert await asyncio.gather(*askers) == [1] * 5
    assert await bodies.get(b"q", build) == 1
    assert build.builds == 1
    assert await bodies.get(b"other", build) == 2  # another query string: its own body


async def test_a_body_older_than_its_seconds_is_built_again() -> None:
    bodies: WholeBodies[int] = WholeBodies(seconds=0.05)
    build = Builder()
    build.gate.set()
    assert await bodies.get(b"q", build) == 1
    await asyncio.sleep(0.06)
    assert await bodies.get(b"q", build) == 2


async def test_the_first_asker_leaving_does_not_cancel_the_others_build() -> None:
    bodies: WholeBodies[int] = WholeBodies(seconds=60)
    build = Builder()
    first = asyncio.create_task(bodies.get(b"q", build))
    second = asyncio.create_task(bodies.get(b"q", build))
    await asyncio.sleep(0)
    first.cancel()  # its client went away
    build.gate.set()
    assert await second == 1
    assert first.cancelled()


async def test_an_error_reaches_every_asker_and_is_not_kept() -> None:
    bodies: WholeBodies[int] = WholeBodies(seconds=60)
    build = Builder()
    build.fail = True
    askers = [asyncio.create_task(bodies.get(b"q", build)) for _ in range(3)]
    await asyncio.sleep(0)
    build.gate.set()
    results = await asyncio.gather(*askers, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    build.fail = False
    assert await bodies.get(b"q", build) == 2


async def test_remembered_queries_are_bounded() -> None:
    bodies: WholeBodies[int] = WholeBodies(seconds=60, kept=4)
    build = Builder()
    build.gate.set()
    for n in range(10):
        await bodies.get(str(n).encode(), build)
    assert len(bodies._held) <= 4
