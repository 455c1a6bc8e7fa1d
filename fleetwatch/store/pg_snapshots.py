"""PostgreSQL's packed snapshots (migration 0015): the rows as written, read and converted.

A row keeps the document, its normal form and its summary as ``fleetwatch.store.packing``
frames (``document_z``; ``normalized_z`` and, since migration 0018, ``summary_z`` empty when
derivable), which the server cannot open; so the hub unpacks every snapshot it reads, and what
SQL must still filter, sort and index is kept beside them in plain columns: ``hostname`` and
the summary figures of :data:`FIGURE_COLUMNS`. The hub evaluates every other condition
(``query_split.py``) and sums roll-ups itself (``summaries_py.py``).

A summary is ``snapshot_summary(document, normal form)`` again, so new rows store none: it was
a sixth of a row (~65 bytes packed). Deriving one costs ~60 µs (``normalise`` and
``summary_of``) where unpacking took ~4, so the fleet's reads, which ask for the newest
snapshot of every system again and again, keep the summaries they derived by snapshot id (a
row never changes). As for the normal form, a change to ``summary_of``'s output must come with
a migration that stores the old rows' summaries.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from .base import encode_json, snapshot_hostname, snapshot_summary, snapshot_texts
from .packing import (
    derived_normalized,
    pack,
    register_dictionary,
    shipped_dictionaries,
    unpack,
)

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "ADD_NAMED_SNAPSHOT",
    "ADD_SNAPSHOT",
    "COARSE_SQL",
    "FIGURE_COLUMNS",
    "HOSTNAME_SYSTEMS",
    "coarse",
    "load_dictionaries",
    "normalized_of",
    "pack_snapshots",
    "packed_row",
    "summary_of_row",
    "unpack_json",
]

logger = logging.getLogger(__name__)

# The summary figures that had expression indexes over jsonb: real columns, plain btrees.
FIGURE_COLUMNS = ("cpu_percent", "mem_percent", "storage_percent", "load1")

# What the figures' indexes hold: a tenth of a unit as an int4, clamped (a figure may be any
# JSON number). Many rows share a key, so the btree deduplicates them (~9 bytes a row where a
# float8 key took ~22-30: float8 btrees cannot deduplicate). The same text as migration 0015's.
COARSE_SQL = "(least(greatest({column} * 10, '-2e9'::float8), '2e9'::float8))::int4"
_COARSE_BOUND = 2e9


def coarse(value: float) -> int:
    """``COARSE_SQL`` of ``value``: float8 to int4 rounds half to even, as round() does."""
    return round(min(max(value * 10, -_COARSE_BOUND), _COARSE_BOUND))


_INSERT = (
    "INSERT INTO snapshots (system_id, created_at, cpu_percent, mem_percent, storage_percent,"
    " load1, source, hostname, document_z, normalized_z, summary_z)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
ADD_SNAPSHOT = _INSERT + " RETURNING id"
# A system's first snapshot with a hostname also records the pair (migration 0018), in the
# same statement: a committed snapshot's hostname always finds its system there.
ADD_NAMED_SNAPSHOT = (
    f"WITH added AS ({_INSERT} RETURNING id, system_id, hostname),"  # noqa: S608 - constants
    " named AS (INSERT INTO snapshot_hostnames (hostname, system_id)"
    "  SELECT hostname, system_id FROM added WHERE hostname IS NOT NULL ON CONFLICT DO NOTHING)"
    " SELECT id FROM added"
)
# Which systems sent these hostnames: a filter on hostnames becomes one on those systems.
HOSTNAME_SYSTEMS = (
    "SELECT hostname, system_id FROM snapshot_hostnames WHERE hostname = ANY(%(names)s)"
)


def _figure(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def packed_row(
    system_id: int,
    created_at: float,
    document: dict[str, Any],
    normalized: dict[str, Any],
    source: str,
) -> tuple[object, ...]:
    """The parameters of :data:`ADD_SNAPSHOT`."""
    texts = snapshot_texts(document, normalized)
    return (
        system_id,
        created_at,
        *(_figure(texts.summary.get(name)) for name in FIGURE_COLUMNS),
        source,
        snapshot_hostname(document),
        pack(texts.document, dense=True),
        _packed_normalized(source, document, texts.normalized),
        b"",  # the summary: derived from the document and its normal form when read
    )


def _packed_normalized(source: str, document: dict[str, Any], normalized_json: bytes) -> bytes:
    """Empty when reading derives the same normal form (key order aside: jsonb kept none)."""
    derived = derived_normalized(source, document)
    if derived is not None and _canonical(derived) == _canonical_text(normalized_json):
        return b""
    return pack(normalized_json)


def _canonical(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _canonical_text(text: bytes) -> bytes:
    return _canonical(orjson.loads(text))


def unpack_json(blob: bytes | None) -> Any:
    """A packed column's value (None for NULL)."""
    return None if blob is None else orjson.loads(unpack(bytes(blob)))


def normalized_of(source: str, document: dict[str, Any], normalized_z: bytes | None) -> Any:
    """A snapshot's normal form: stored, else (empty or NULL) derived from its document."""
    if normalized_z:
        return unpack_json(normalized_z)
    if source == "local":
        return document
    return derived_normalized(source, document) or {}


def summary_of_row(
    summary_z: bytes | None, source: str, document: Any, normalized_z: bytes | None
) -> Any:
    """A snapshot's summary: stored (rows packed before migration 0018), else derived from its
    document (decoded) and its normal form, as it was when the row was written."""
    if summary_z:
        return unpack_json(summary_z)
    if not isinstance(document, dict):
        return {}
    normalized = normalized_of(source, document, normalized_z)
    return snapshot_summary(document, normalized if isinstance(normalized, dict) else {})


class SummaryCache:
    """Derived summaries by snapshot id, the newest ``size`` asked for, as JSON bytes (~370
    each: 10,000 systems' newest are ~4 MB; a decode is ~2 µs, a derivation ~60)."""

    def __init__(self, size: int = 16_384) -> None:
        self.size = size
        self._kept: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()  # the fleet's rows are read in worker threads too

    def summary(
        self, snapshot_id: int, source: str, document_z: bytes, normalized_z: bytes | None
    ) -> Any:
        with self._lock:
            kept = self._kept.get(snapshot_id)
            if kept is not None:
                self._kept.move_to_end(snapshot_id)
        if kept is not None:
            return orjson.loads(kept)
        summary = summary_of_row(None, source, unpack_json(document_z), normalized_z)
        with self._lock:
            self._kept[snapshot_id] = orjson.dumps(summary)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return summary


async def load_dictionaries(conn: psycopg.AsyncConnection[Any]) -> None:
    """Keep the shipped dictionaries in the database and know every one it holds, so rows
    packed by another version of the hub stay readable."""
    for number, data in shipped_dictionaries().items():
        await conn.execute(
            "INSERT INTO zstd_dictionaries (id, dictionary) VALUES (%s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            (number, data),
        )
    cursor = await conn.execute("SELECT id, dictionary FROM zstd_dictionaries")
    for number, data in await cursor.fetchall():
        register_dictionary(int(number), bytes(data))


# -- migration 0015's step: the jsonb rows packed into ``snapshots_packed``, in its transaction

_CONVERT_BATCH = 2000
_OLD_ROWS = (
    "SELECT id, system_id, created_at, source, document, normalized, summary FROM snapshots"
    " ORDER BY id"
)
_COPY = (
    "COPY snapshots_packed (id, system_id, created_at, cpu_percent, mem_percent,"
    " storage_percent, load1, source, hostname, document_z, normalized_z, summary_z) FROM STDIN"
)


def _converted(row: tuple[Any, ...]) -> tuple[object, ...]:
    id_, system_id, created_at, source, document, normalized, summary = row
    document_json = encode_json(document).encode()
    summary = summary if isinstance(summary, dict) else {}
    return (
        id_,
        system_id,
        created_at,
        *(_figure(summary.get(name)) for name in FIGURE_COLUMNS),
        source,
        snapshot_hostname(document) if isinstance(document, dict) else None,
        pack(document_json),
        _packed_normalized(source, document, encode_json(normalized).encode()),
        pack(encode_json(summary)),
    )


async def pack_snapshots(conn: psycopg.AsyncConnection[Any]) -> None:
    """Copy every jsonb snapshot into ``snapshots_packed``, packed, ids kept, and carry the
    identity on past the highest id ever given. Runs inside the migration's transaction: a
    failure leaves the jsonb table as it was."""
    await load_dictionaries(conn)
    cursor = await conn.execute(
        "SELECT pg_sequence_last_value(pg_get_serial_sequence('snapshots', 'id'))"
    )
    row = await cursor.fetchone()
    last_given = int(row[0]) if row is not None and row[0] is not None else 0
    copied = 0
    async with conn.cursor(name="fleetwatch_pack_snapshots") as old:
        await old.execute(_OLD_ROWS)
        while rows := await old.fetchmany(_CONVERT_BATCH):
            async with conn.cursor().copy(_COPY) as copy:
                for found in rows:
                    await copy.write_row(_converted(found))
            copied += len(rows)
            last_given = max(last_given, int(rows[-1][0]))
    if last_given:
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('snapshots_packed', 'id'), %s)", (last_given,)
        )
    logger.info("packed %d snapshots", copied)
