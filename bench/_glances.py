"""Reference Glances server for benchmarks: private venv, loopback-only config, command line.

Glances runs from ``bench/.glances-venv`` (git-ignored), never from the project venv.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
GLANCES_VENV = BENCH_DIR / ".glances-venv"
GLANCES_REQUIREMENT = "glances[web]>=4.5,<4.6"
_VERSION_RE = re.compile(r"Glances version:?\s+v?([0-9][0-9.]*)", re.I)

# Loopback-only configuration. Glances reads only this file when started with -C.
# * [global] check_update=false and --disable-check-update: no PyPI version check.
# * [ports] port_default_gateway=False: the ports plugin does not probe the default gateway.
# * [cloud] disable=True: no request to the 169.254.169.254 metadata service (the packaged
#   glances.conf disables it too).
# * [ip] public_disabled=True: no public-IP lookup (only happens when public_api is set, which
#   it is not here; explicit for safety).
GLANCES_CONFIG = """\
[global]
check_update=false

[ports]
port_default_gateway=False

[cloud]
disable=True

[ip]
public_disabled=True
"""


class GlancesSetupError(RuntimeError):
    pass


def glances_bin(venv: Path = GLANCES_VENV) -> Path:
    return venv / "bin" / "glances"


def glances_version(venv: Path = GLANCES_VENV) -> str | None:
    """Installed Glances version (e.g. '4.5.8') or None if missing/broken."""
    exe = glances_bin(venv)
    if not exe.exists():
        return None
    try:
        proc = subprocess.run(
            [str(exe), "-V"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION_RE.search(proc.stdout + proc.stderr)
    return m.group(1) if m else None


def _is_45x(version: str | None) -> bool:
    return version is not None and (version == "4.5" or version.startswith("4.5."))


def ensure_glances(venv: Path = GLANCES_VENV, *, log: bool = True) -> str:
    """Install Glances 4.5.x into its own venv unless it is already there. Returns its version."""
    version = glances_version(venv)
    if _is_45x(version):
        assert version is not None
        return version
    python3 = shutil.which("python3") or sys.executable
    if log:
        print(f"# installing {GLANCES_REQUIREMENT} into {venv} ...", file=sys.stderr, flush=True)
    if not (venv / "bin" / "python").exists():
        _check([python3, "-m", "venv", str(venv)])
    _check([str(venv / "bin" / "pip"), "install", "-q", GLANCES_REQUIREMENT])
    version = glances_version(venv)
    if not _is_45x(version):
        raise GlancesSetupError(f"expected Glances 4.5.x in {venv}, got {version!r}")
    assert version is not None
    return version


def _check(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise GlancesSetupError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")


def write_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "glances.conf"
    path.write_text(GLANCES_CONFIG)
    return path


def glances_argv(
    port: int,
    config: Path,
    *,
    refresh_s: int = 2,
    bind: str = "127.0.0.1",
    venv: Path = GLANCES_VENV,
) -> list[str]:
    """``glances -w --disable-webui --disable-check-update -B ADDR -p PORT -t N -C CONFIG``."""
    return [
        str(glances_bin(venv)),
        "-w",
        "--disable-webui",
        "--disable-check-update",
        "-B",
        bind,
        "-p",
        str(port),
        "-t",
        str(refresh_s),
        "-C",
        str(config),
    ]
