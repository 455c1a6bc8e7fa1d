"""Anonymous access to /api/4 follows ``auth.anonymous_read`` and the bind address."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubs import client_for, make_hub, started

from fleetwatch.config import ConfigError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("bind", "mode", "anonymous_status"),
    [
        ("127.0.0.1", "never", 401),
        ("0.0.0.0", "always", 200),
        ("0.0.0.0", "loopback", 401),
        ("127.0.0.1", "loopback", 200),
    ],
)
async def test_anonymous_read_follows_the_config(
    tmp_path: Path, bind: str, mode: str, anonymous_status: int
) -> None:
    hub = await started(make_hub(tmp_path, bind=bind, auth_anonymous_read=mode))
    try:
        async with client_for(hub) as client:
            assert (await client.get("/api/4/cpu")).status_code == anonymous_status
            assert (await client.get("/api/4/status")).status_code == 200
            # Off loopback, "always" opens reads only, never Glances' actions.
            clear = await client.post("/api/4/events/clear/all")
            assert clear.status_code == (200 if bind == "127.0.0.1" and mode != "never" else 401)
    finally:
        await hub.store.close()


async def test_a_warning_when_anonymous_off_loopback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = make_hub(tmp_path, bind="0.0.0.0", auth_anonymous_read="always")
    await hub.start()
    await hub.stop()
    assert any(
        "anonymous read" in r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    )


def test_a_bad_anonymous_mode_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.anonymous_read must be one of"):
        make_hub(tmp_path, auth_anonymous_read="sometimes")
