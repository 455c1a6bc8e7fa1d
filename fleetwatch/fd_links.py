"""Which descriptor of this process holds which socket, read in few hand-overs of the GIL.

``os.readlink`` lets go of the interpreter's lock for its system call and takes it back
after. A pass over 10,000 descriptors in a helper thread hands the lock back and forth
10,000 times, and each time the event loop thread, busy under load, is made to stop for it
and then waits to be scheduled again. Under 1,000 pushes a second on the 2-core test machine
such a pass took 0.4-1.7 s, and the hub refused pushes while it ran; against one busy thread
it took 4.6-6.3 s. Read through ``ctypes.PyDLL``, a link (kept in memory by the kernel,
about a microsecond to read) keeps the lock for the call, which is let go only between
chunks of ``CHUNK`` descriptors: the same pass took 0.2 s against the busy thread, which
waited at most 3 ms at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["socket_fds"]

# Descriptors read per hold of the lock: ~2-3 ms on the test machine.
CHUNK = 1000
_PREFIX = b"socket:["


def _libc_readlink() -> Callable[[bytes, ctypes.Array[ctypes.c_char], int], int] | None:
    with contextlib.suppress(OSError, AttributeError):
        function = ctypes.PyDLL(None).readlink  # PyDLL: the GIL is kept during the call
        function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        function.restype = ctypes.c_ssize_t
        return function
    return None


_READLINK = _libc_readlink()


def socket_fds(fd_dir: Path) -> dict[int, int]:
    """{socket inode: descriptor} of the descriptors listed in ``fd_dir``."""
    names = os.listdir(fd_dir)
    base = os.fsencode(fd_dir) + b"/"
    fds: dict[int, int] = {}
    readlink = _READLINK
    if readlink is None:  # no C library to call: the standard library's, one call each
        for name in names:
            with contextlib.suppress(OSError):
                _add(fds, name, os.fsencode(os.readlink(base + name.encode())))
        return fds
    buffer = ctypes.create_string_buffer(64)
    for start in range(0, len(names), CHUNK):
        for name in names[start : start + CHUNK]:
            size = readlink(base + name.encode(), buffer, 64)
            if size > 0:
                _add(fds, name, buffer.raw[:size])
        time.sleep(0)  # let the event loop have the lock between chunks
    return fds


def _add(fds: dict[int, int], name: str, link: bytes) -> None:
    if link.startswith(_PREFIX) and link.endswith(b"]"):
        fds[int(link[len(_PREFIX) : -1])] = int(name)
