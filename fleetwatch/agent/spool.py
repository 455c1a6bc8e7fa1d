"""A bounded on-disk queue of documents not yet accepted by the hub, oldest first.

Each document is one file named by a zero-padded sequence number, written to a temporary
name and renamed, so a crash never leaves half a document. When the spool is full the oldest
document is dropped (and logged): recent figures matter more than old ones.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path, max_items: int = 1000) -> None:
        self.directory = directory
        self.max_items = max_items
        directory.mkdir(parents=True, exist_ok=True)

    def _items(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def __len__(self) -> int:
        return len(self._items())

    def put(self, body: bytes) -> Path:
        items = self._items()
        for old in items[: max(0, len(items) - self.max_items + 1)]:
            log.warning(
                "spool full (%d documents): dropping the oldest, %s", self.max_items, old.name
            )
            old.unlink(missing_ok=True)
        number = int(items[-1].stem) + 1 if items else 1
        path = self.directory / f"{number:012d}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)
        return path

    def oldest(self) -> tuple[Path, bytes] | None:
        items = self._items()
        if not items:
            return None
        return items[0], items[0].read_bytes()

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
