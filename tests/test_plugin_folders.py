"""``folders``: sizes of real directories made in tmp_path."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.folders import FoldersCollector, folder_size
from fleetwatch.model.limits import Limits, apply_overrides, default_limits


def limits_with(values: dict[str, Any]) -> dict[str, Limits]:
    limits = default_limits(["folders"], 1200)
    apply_overrides(limits, "folders", values)
    return limits


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    (root / "one").write_bytes(b"x" * 1000)
    (root / "a" / "two").write_bytes(b"x" * 2000)
    (root / "a" / "b" / "three").write_bytes(b"x" * 3000)
    (root / "link").symlink_to(root / "a")  # not followed: counted as a link only
    return root


def test_size_of_a_real_tree(tree: Path) -> None:
    size, error = folder_size(str(tree))

    assert error == 0
    assert size == 6000 + os.lstat(tree / "link").st_size


def test_configured_folders_with_thresholds(tree: Path, tmp_path: Path) -> None:
    limits = limits_with(
        {
            "data_path": str(tree), "data_careful": 1, "data_warning": 2, "data_critical": 3,
            "gone_path": str(tmp_path / "gone"),
        }
    )  # fmt: skip

    data, gone = FoldersCollector().collect(CollectContext(now=1000.0, limits=limits))

    assert data["key"] == "path"
    assert data["path"] == str(tree)
    assert data["size"] >= 6000
    assert (data["careful"], data["warning"], data["critical"]) == (1.0, 2.0, 3.0)
    assert data["refresh"] == 60.0
    assert data["errno"] == 0
    assert (gone["size"], gone["errno"]) == (0, errno.ENOENT)
    assert gone["careful"] is None


def test_refresh_per_folder(tree: Path) -> None:
    limits = limits_with({"data_path": str(tree), "data_refresh": 30})
    collector = FoldersCollector()

    first = collector.collect(CollectContext(now=1000.0, limits=limits))[0]["size"]
    (tree / "four").write_bytes(b"x" * 4000)
    kept = collector.collect(CollectContext(now=1020.0, limits=limits))[0]["size"]
    fresh = collector.collect(CollectContext(now=1030.0, limits=limits))[0]["size"]

    assert kept == first
    assert fresh == first + 4000


def test_nothing_configured() -> None:
    limits = default_limits(["folders"], 1200)

    assert FoldersCollector().collect(CollectContext(now=1000.0, limits=limits)) == []
