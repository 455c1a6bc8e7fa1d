"""The README's shell examples run as written against a hub like ``make serve``'s.

A real ``fleetwatch serve`` (plain HTTP, loopback) stands in for ``make serve``: the examples'
``http://127.0.0.1:61208`` is pointed at its port, and ``FLEETWATCH_HOME`` makes the CLI in
them open the hub's store as the default data directory would. Everything else is run by
``sh`` exactly as printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import ServeProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKE_SERVE = "http://127.0.0.1:61208"


def block_after(heading: str) -> list[str]:
    """The lines of the first ```sh block after ``heading``."""
    rest = README[README.index(heading) :]
    match = re.search(r"```sh\n(.*?)```", rest, re.DOTALL)
    assert match is not None, heading
    return match.group(1).splitlines()


def commands(lines: list[str]) -> list[str]:
    """Shell commands, continuation lines joined; comment-only lines left out."""
    out: list[str] = []
    for line in lines:
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1] + line.strip()
        elif line.strip() and not line.lstrip().startswith("#"):
            out.append(line)
    return out


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("readme")
    with ServeProcess(data) as proc:
        bin_dir = str(Path(sys.executable).parent)  # where `fleetwatch` is installed
        env = {**os.environ, "FLEETWATCH_HOME": str(data),
               "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
        env.pop("FLEETWATCH_CONFIG", None)
        yield proc.url, env


def run(command: str, url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command.replace(MAKE_SERVE, url)], capture_output=True,
                          text=True, timeout=60, env=env, cwd=ROOT, check=False)  # fmt: skip


def test_the_tour_with_curl(hub: tuple[str, dict[str, str]]) -> None:
    url, env = hub
    for command in commands(block_after("## A tour with curl")):
        line, _, comment = command.partition("  #")
        expected = "404" if "404" in comment else "200"
        done = run(f"{line.strip()} -s -o /dev/null -w '%{{http_code}}'", url, env)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout == expected, (command, done.stdout)


def test_logging_in(hub: tuple[str, dict[str, str]]) -> None:
    url, env = hub
    add_user, login = commands(block_after("### Sending credentials"))[:2]
    assert run(add_user, url, env).returncode == 0
    answer = run(login, url, env)
    assert '"status":"success"' in answer.stdout, answer.stdout + answer.stderr


def test_scraping_metrics(hub: tuple[str, dict[str, str]]) -> None:
    url, env = hub
    add_user, text, openmetrics = commands(block_after("## Prometheus: `GET /metrics`"))
    done = run(add_user, url, env)
    assert done.returncode == 0, done.stderr
    assert "fleetwatch_system_up{" in run(text, url, env).stdout
    assert run(openmetrics, url, env).stdout.endswith("# EOF\n")
