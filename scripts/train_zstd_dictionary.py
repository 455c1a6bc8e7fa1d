"""Train the zstd dictionary that compresses stored snapshots (``fleetwatch/store/packing.py``).

Run: ``.venv/bin/python scripts/train_zstd_dictionary.py OUT``, OUT being
``fleetwatch/store/dictionaries/snapshots-N.zdict``.

The samples are what the hub stores: documents shaped as ``fleetwatch push`` sends them (this
machine's own, and the varied fleet of ``bench/disk.py``), their Glances-shaped normal form and
their summaries. A new dictionary gets the next number; never change a shipped one, rows
compressed with it name it by its number (it is also kept in the database, table
``zstd_dictionaries``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import zstandard

from bench.disk import documents
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.ingest.normalise import normalise
from fleetwatch.model.summary import summary_of

SIZE = 8192


def main() -> None:
    samples: list[bytes] = []
    docs = [d for fleet in documents(200, 10, seed=7) for d in fleet]
    docs.append(DocumentBuilder().build())
    for doc in docs:
        stats = normalise(doc)
        samples.append(orjson.dumps(doc))
        samples.append(orjson.dumps({**summary_of(stats), "agent_version": doc.get("version")}))
    trained = zstandard.train_dictionary(SIZE, samples, level=19)
    Path(sys.argv[1]).write_bytes(trained.as_bytes())


if __name__ == "__main__":
    main()
