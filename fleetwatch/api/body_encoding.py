"""Request bodies sent compressed: ``Content-Encoding: gzip`` on every route that reads one.

``fleetwatch push`` sends its documents gzipped, and so may any client of the submission
routes (TrueCommand's hooks, OP5's commands) and of the other JSON and form routes. The
body limit (``server.max_body_bytes``) bounds the body *after* decompression, as if it had
come plain: the stream is inflated chunk by chunk as it arrives and never past the limit
plus one byte, so a small bomb that inflates to gigabytes costs a megabyte and gets 413.

* ``identity`` (or no header) is the plain body; ``gzip`` and ``x-gzip`` are inflated
  (several gzip members one after another are one body, as RFC 1952 allows);
* any other coding, or more than one layer of gzip, is 415 naming what is accepted;
* a stream that is not gzip, is cut short or has bytes after its end is 400.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from fleetwatch.api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["BodyReader", "content_encoding"]

GZIP = ("gzip", "x-gzip")
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate


def content_encoding(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's ``Content-Encoding`` field lines, joined as one list (RFC 9110 5.3)."""
    values = [value for name, value in headers if name.lower() == b"content-encoding"]
    return b", ".join(values).decode("latin-1")


class BodyReader:
    """One request's body, fed chunk by chunk: the plain bytes, bounded by ``limit``."""

    __slots__ = ("_chunks", "_gzip", "_inflater", "_limit", "_size")

    def __init__(self, encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if codings and (len(codings) > 1 or codings[0] not in GZIP):
            shown = encoding.strip()[:80]
            raise UnsupportedMediaType(
                f"Content-Encoding {shown!r} is not accepted: send the body as it is "
                "(identity) or gzip-compressed (gzip)"
            )
        self._gzip = bool(codings)
        self._limit = limit
        self._size = 0
        self._chunks: list[bytes] = []
        self._inflater: zlib._Decompress | None = None  # within a gzip member

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body as sent; 413 once its plain bytes pass the limit."""
        if not self._gzip:
            self._add(chunk)
            return
        data = chunk
        while data:
            if self._inflater is None:
                self._inflater = zlib.decompressobj(GZIP_WBITS)
            inflater = self._inflater
            try:
                # Never more than one byte past the limit: the rest waits in unconsumed_tail.
                self._add(inflater.decompress(data, self._limit - self._size + 1))
            except zlib.error:
                raise BadRequest("the body is not valid gzip (Content-Encoding: gzip)") from None
            if inflater.eof:  # a member ended; what follows must be another member
                data = inflater.unused_data
                self._inflater = None
            else:
                data = inflater.unconsumed_tail

    def finish(self) -> bytes:
        """The whole plain body; 400 when a gzip stream stopped before its end."""
        if self._inflater is not None:
            raise BadRequest("the gzip body ends before its end (Content-Encoding: gzip)")
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            after = " once decompressed" if self._gzip else ""
            raise PayloadTooLarge(f"the body is larger than {self._limit} bytes{after}")
        self._chunks.append(data)
