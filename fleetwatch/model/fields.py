"""One statistic's metadata, declared once and used by routes, rates, views and OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a plugin's stats as the Glances API v4 names and documents it.

    A ``rate`` field is a cumulative counter: the wire form carries the delta since the
    previous collection under the field's own name, the counter under ``<name>_gauge`` and
    the per-second rate under ``<name>_rate_per_sec`` (Glances' convention).
    """

    name: str
    description: str
    unit: str | None = None
    rate: bool = False


def expand(fields: tuple[Field, ...]) -> dict[str, Field]:
    """Every wire field name, including the derived counter fields, mapped to its metadata."""
    out: dict[str, Field] = {}
    for field in fields:
        out[field.name] = field
        if field.rate:
            unit = f"{field.unit} per second" if field.unit else None
            out[f"{field.name}_rate_per_sec"] = Field(
                f"{field.name}_rate_per_sec", f"{field.description} per second", unit
            )
            out[f"{field.name}_gauge"] = Field(
                f"{field.name}_gauge", f"{field.description} (cumulative)", field.unit
            )
    if any(f.rate for f in fields):
        out["time_since_update"] = Field(
            "time_since_update", "Number of seconds since last update", "seconds"
        )
    return out
