"""The summary's one-decimal rounding: halves away from zero, as the SQL migration rounds."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest

from fleetwatch.model.summary import _one_decimal, summary_of


def by_decimal(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(31.25, 31.3), (31.35, 31.4), (0.05, 0.1), (0.15, 0.2), (2.675, 2.7), (99.95, 100.0),
     (-31.25, -31.3), (0.0, 0.0), (12.3456, 12.3), (22.149999999999, 22.1),
     (1e15 + 0.25, 1e15 + 0.3)],
)  # fmt: skip
def test_halves_go_away_from_zero(value: float, expected: float) -> None:
    assert _one_decimal(value) == expected


def test_the_fast_path_agrees_with_decimal_rounding() -> None:
    draw = random.Random(5)
    values = [draw.uniform(0, 100) for _ in range(20_000)]
    values += [n / 100 for n in range(10_001)]  # every percentage with two decimals: the ties
    values += [100.0 * used / size for size in (3, 7, 4096, 1000) for used in range(size + 1)]
    assert [_one_decimal(v) for v in values] == [by_decimal(v) for v in values]


def test_storage_percent_over_every_filesystem() -> None:
    stats = {"fs": [{"size": 4096, "used": 1523}, {"size": 4096, "used": 1}, "not a dict"]}
    assert summary_of(stats)["storage_percent"] == by_decimal(100.0 * 1524 / 8192) == 18.6
