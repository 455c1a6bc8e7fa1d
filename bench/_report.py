"""Small reporting helpers shared by benchmarks: medians, ratios, Markdown tables, JSON files."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NA = "n/a"


def median(values: Iterable[float | None]) -> float:
    """Median of the finite values; NaN when there are none."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(vals) if vals else math.nan


def ratio(num: float, den: float) -> float:
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0:
        return math.nan
    return num / den


def fmt_rate(v: float) -> str:
    if not math.isfinite(v):
        return NA
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def fmt_ms(v: float) -> str:
    if not math.isfinite(v):
        return NA
    if v < 10:
        return f"{v:.2f} ms"
    return f"{v:,.1f} ms"


def fmt_ratio(v: float) -> str:
    if not math.isfinite(v):
        return NA
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x"


def fmt_mib(kib: float) -> str:
    return NA if not math.isfinite(kib) else f"{kib / 1024:.1f} MiB"


def fmt_s(v: float) -> str:
    return NA if not math.isfinite(v) else f"{v:.3f} s"


def fmt_num(v: float, digits: int = 2) -> str:
    return NA if not math.isfinite(v) else f"{v:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """GitHub Markdown table. ``align``: one char per column, 'l' or 'r' (default: l then r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class TargetResult:
    name: str
    measured: str
    passed: bool | None  # None: could not be evaluated
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "N/A"
        return "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": self.measured,
            "passed": self.passed,
            "verdict": self.verdict,
            "note": self.note,
        }


def check(value: float, ok: bool, name: str, measured: str, note: str = "") -> TargetResult:
    """TargetResult that is N/A when ``value`` is not a finite number."""
    if not math.isfinite(value):
        return TargetResult(name, measured, None, note or "not measured")
    return TargetResult(name, measured, ok, note)


def targets_table(targets: Sequence[TargetResult]) -> str:
    rows = [
        [t.name, t.measured, f"**{t.verdict}**" + (f" ({t.note})" if t.note else "")]
        for t in targets
    ]
    return markdown_table(["Target", "Measured", "Result"], rows, "llr")


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _json_default(o: object) -> object:
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _sanitize(o: Any) -> Any:
    """Replace NaN/inf by None so the file is strict JSON."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _sanitize(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_sanitize(v) for v in o]
    return o


def write_results(name: str, data: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``results_dir/<name>-<UTC timestamp>.json`` and return its path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}-{data.get('timestamp') or utc_stamp()}.json"
    path.write_text(
        json.dumps(_sanitize(data), indent=2, default=_json_default, allow_nan=False) + "\n"
    )
    return path
