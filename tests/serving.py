"""A real ``fleetwatch serve`` process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

LISTENING = re.compile(r"listening on (https?://\S+?)/?$")


class ServeProcess:
    """Starts the hub with ``--port 0`` and reads the URL back from its log line."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.env.pop("FLEETWATCH_CONFIG", None)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log: list[str] = []
        self.started_at = 0.0

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fleetwatch", "serve", "--port", "0",
                "--data-dir", str(self.data_dir), *self.args]  # fmt: skip

    def start(self, timeout: float = 15.0) -> str:
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=self.env,
        )  # fmt: skip
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line.rstrip())
            match = LISTENING.search(line.rstrip())
            if match:
                self.url = match.group(1)
                return self.url
        self.stop()
        raise AssertionError("hub did not start:\n" + "\n".join(self.log))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self.proc.stderr is not None and not self.proc.stderr.closed:  # stop may come twice
            self.log.extend(self.proc.stderr.read().splitlines())
            self.proc.stderr.close()
        return code

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
    stdin: str | None = None,
    module: str = "fleetwatch",
) -> subprocess.CompletedProcess[str]:
    """Run ``fleetwatch ARGS`` to completion, ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, check=False, input=stdin,
    )  # fmt: skip
