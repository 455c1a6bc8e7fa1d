"""Snapshots stored small: JSON compressed with a trained zstd dictionary, the derivable left out.

A pushed document is ~1 KB of JSON whose keys and shape repeat from one push to the next; its
Glances-shaped form (``normalized``) is ``normalise(document)`` again, and the hub's own
snapshots store the same stats twice. So SQLite keeps (migration 0011):

* ``document_z``: the document's JSON as one byte naming the dictionary, then a zstd frame
  compressed with that dictionary (~210 bytes where plain zstd gives ~600: a 1 KB document is
  too short for zstd to learn its own keys);
* ``normalized_z``: NULL when the normal form is derivable (``local``: the document itself;
  otherwise ``normalise(document)``, checked byte for byte at write time), else packed likewise;
* ``summary_z``: the summary, packed likewise.

``document``, ``normalized``, ``summary`` and ``hostname`` are VIRTUAL generated columns over
them, through the functions registered here, so every query, index and roll-up statement reads
the same JSON text as before. A derived normal form uses ``normalise`` as it is: a change to its
output must come with a migration that stores the old rows' normal form.

Dictionaries are numbered; a row names its own, the shipped ones live in
``store/dictionaries/`` and each is also copied into the database (``zstd_dictionaries``), so a
later version that trains a new one still reads rows packed with the old.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson
import zstandard

from fleetwatch.ingest.normalise import normalise

from .base import SnapshotRecord, snapshot_hostname

__all__ = [
    "CURRENT_DICTIONARY",
    "derived_normalized",
    "json_value",
    "pack",
    "pack_normalized",
    "register_dictionary",
    "register_packing_functions",
    "shipped_dictionaries",
    "unpack",
    "unpacked_snapshot",
]

CURRENT_DICTIONARY = 1
# Fast enough for ingestion (~7 µs a document); level 19 gained 15 % for 30x the time.
_LEVEL = 3
# PostgreSQL's documents (``pack(..., dense=True)``): ~25 µs a document for 10 % fewer bytes
# (233 -> 209 with this dictionary, bench/disk.py's documents), what takes its rows under 500
# bytes. SQLite's hub, whose one event loop packs 1,000 pushes a second of a 10,000-system
# fleet at the edge of what 2 cores carry, keeps level 3 (at level 9 some runs refused pushes
# with a full write queue). Reading is as fast at any level.
_DENSE_LEVEL = 9
_PLAIN = 0  # the header byte of a frame compressed without a dictionary


def _parameters(level: int) -> zstandard.ZstdCompressionParameters:
    # Frames without zstd's 4-byte magic number (our header byte says what follows), checksum
    # or dictionary id (the header byte names it): ~10 bytes a frame, 3 % of a snapshot.
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        format=zstandard.FORMAT_ZSTD1_MAGICLESS,
        write_checksum=0,
        write_dict_id=0,
        write_content_size=1,
    )


_PARAMETERS = {False: _parameters(_LEVEL), True: _parameters(_DENSE_LEVEL)}

_dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
_lock = threading.Lock()
# Compressor objects may not be shared between threads: one set per thread.
_local = threading.local()


def shipped_dictionaries() -> dict[int, bytes]:
    """The dictionaries this version ships, by number."""
    folder = resources.files(__package__).joinpath("dictionaries")
    return {
        int(entry.name.removeprefix("snapshots-").removesuffix(".zdict")): entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name.startswith("snapshots-") and entry.name.endswith(".zdict")
    }


def register_dictionary(number: int, data: bytes) -> None:
    """Make dictionary ``number`` known (from the package or the database)."""
    if not 1 <= number <= 255:
        raise ValueError(f"dictionary number {number} is not in 1..255")
    with _lock:
        if number not in _dictionaries:
            _dictionaries[number] = zstandard.ZstdCompressionDict(data)


for _number, _data in shipped_dictionaries().items():
    register_dictionary(_number, _data)


def _compressor(number: int, dense: bool) -> zstandard.ZstdCompressor:
    found: dict[tuple[int, bool], zstandard.ZstdCompressor] = _local.__dict__.setdefault(
        "compressors", {}
    )
    if (number, dense) not in found:
        data = _dictionaries[number] if number != _PLAIN else None
        found[number, dense] = zstandard.ZstdCompressor(
            compression_params=_PARAMETERS[dense], dict_data=data
        )
    return found[number, dense]


def _decompressor(number: int) -> zstandard.ZstdDecompressor:
    found: dict[int, zstandard.ZstdDecompressor] = _local.__dict__.setdefault("decompressors", {})
    if number not in found:
        if number != _PLAIN and number not in _dictionaries:
            raise ValueError(f"snapshot packed with unknown dictionary {number}")
        found[number] = zstandard.ZstdDecompressor(
            dict_data=_dictionaries.get(number), format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )
    return found[number]


def pack(text: bytes | str, *, dense: bool = False) -> bytes:
    """JSON text as stored: the dictionary's number, then the zstd frame; ``dense``: smaller,
    at ~3x the time."""
    data = text.encode() if isinstance(text, str) else text
    return bytes((CURRENT_DICTIONARY,)) + _compressor(CURRENT_DICTIONARY, dense).compress(data)


def unpack(blob: bytes) -> bytes:
    """The JSON text of a packed value."""
    return _decompressor(blob[0]).decompress(blob[1:])


def json_value(value: Any) -> Any:
    """A JSON column's value as either backend returns it: a packed frame (PostgreSQL's bytea,
    whose first byte, a dictionary's number, is never the start of JSON text), JSON text, or
    already decoded (jsonb)."""
    if isinstance(value, bytes | memoryview):
        data = bytes(value)
        return orjson.loads(unpack(data) if data[:1] < b" " else data)
    return orjson.loads(value) if isinstance(value, str) else value


def derived_normalized(source: str, document: dict[str, Any]) -> dict[str, Any] | None:
    """The normal form stored as NULL means: the document itself for the hub's own snapshots,
    else ``normalise(document)``; None when the document is not one normalise() accepts."""
    if source == "local":
        return document
    try:
        return normalise(document)
    except Exception:
        return None


def pack_normalized(
    source: str, document: dict[str, Any], document_json: bytes, normalized_json: bytes
) -> bytes | None:
    """``normalized_z`` for a snapshot: None when reading derives the same bytes."""
    if source == "local":
        derived = document_json
    else:
        derived_stats = derived_normalized(source, document)
        derived = orjson.dumps(derived_stats) if derived_stats is not None else b""
    return None if derived == normalized_json else pack(normalized_json)


def unpacked_snapshot(row: Sequence[Any]) -> SnapshotRecord:
    """A snapshot read as ``id, system_id, created_at, source, document_z, normalized_z``."""
    id_, system_id, created_at, source, document_z, normalized_z = row
    document = orjson.loads(unpack(document_z))
    if normalized_z:  # NULL (SQLite) or empty (PostgreSQL): derivable
        normalized = orjson.loads(unpack(normalized_z))
    elif source == "local":
        normalized = orjson.loads(unpack(document_z))  # its own copy, as a stored one would be
    else:
        normalized = derived_normalized(source, document) or {}
    return SnapshotRecord(id_, system_id, created_at, source, document, normalized)


# -- SQL functions (SQLite): the generated columns and migration 0011 call them


def _unpacked_text(blob: bytes) -> str:
    # The row at hand is often unpacked twice in a row (a condition and its guard, the
    # document and its hostname): the thread's last answer is kept. An LRU cache cost more per
    # call (1.5 µs) than unpacking a summary (0.7 µs), and a scan calls this once per row.
    last: tuple[bytes, str] | None = getattr(_local, "last", None)
    if last is not None and last[0] == blob:
        return last[1]
    text = unpack(blob).decode()
    _local.last = (blob, text)
    return text


def _sql_unpack(blob: object) -> str | None:
    if type(blob) is bytes:  # the hot path: one call per row a scan reads
        return _unpacked_text(blob)
    if blob is None or isinstance(blob, str):  # a str: never packed, readable all the same
        return blob
    raise TypeError("fw_unpack takes a packed value")


@lru_cache(maxsize=16)
def _normalized_text(source: str, document: bytes) -> str:
    if source == "local":
        return _unpacked_text(document)
    stats = derived_normalized(source, orjson.loads(unpack(document)))
    return orjson.dumps(stats if stats is not None else {}).decode()


def _sql_normalized(source: object, document: object, normalized: object) -> str | None:
    if normalized is not None:
        return _sql_unpack(normalized)
    if not isinstance(source, str) or not isinstance(document, bytes):
        return None
    return _normalized_text(source, document)


def _sql_hostname(document: object) -> str | None:
    if not isinstance(document, bytes):
        return None
    parsed = orjson.loads(_unpacked_text(document))
    return snapshot_hostname(parsed) if isinstance(parsed, dict) else None


def _sql_pack(text: object) -> bytes | None:
    if text is None:
        return None
    assert isinstance(text, str | bytes)
    return pack(text)


def _sql_pack_normalized(source: object, document: object, normalized: object) -> bytes | None:
    if not (isinstance(source, str) and isinstance(document, str) and isinstance(normalized, str)):
        raise TypeError("fw_pack_normalized takes a source and two JSON texts")
    try:
        # Re-encoded: the text as it was stored may differ from orjson's bytes for the same JSON.
        doc = orjson.loads(document)
        stats = orjson.dumps(orjson.loads(normalized))
    except orjson.JSONDecodeError:
        return pack(normalized)
    return pack_normalized(source, doc, orjson.dumps(doc), stats)


def register_packing_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the functions behind the packed columns (needed before it touches
    ``snapshots``): fw_unpack, fw_hostname, fw_normalized; fw_pack, fw_pack_normalized (0011)."""
    conn.create_function("fw_unpack", 1, _sql_unpack, deterministic=True)
    conn.create_function("fw_hostname", 1, _sql_hostname, deterministic=True)
    conn.create_function("fw_normalized", 3, _sql_normalized, deterministic=True)
    conn.create_function("fw_pack", 1, _sql_pack, deterministic=True)
    conn.create_function("fw_pack_normalized", 3, _sql_pack_normalized, deterministic=True)
