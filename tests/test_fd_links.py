"""``fleetwatch.fd_links``: the socket inodes of this process's descriptors, as the kernel
names them, with and without the C library's ``readlink``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fleetwatch import fd_links

FD_DIR = Path("/proc/self/fd")


def inode_of(sock: socket.socket) -> int:
    return (FD_DIR / str(sock.fileno())).stat().st_ino


@pytest.mark.parametrize("through", ["ctypes", "os"])
def test_every_socket_is_found_at_its_descriptor(
    through: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if through == "os":
        monkeypatch.setattr(fd_links, "_READLINK", None)
    else:
        assert fd_links._READLINK is not None  # glibc is there on Linux
    # More than one chunk, so the pass lets go of the lock between chunks at least once.
    pairs = [socket.socketpair() for _ in range(fd_links.CHUNK // 2 + 10)]
    try:
        with open(__file__, "rb") as not_a_socket:
            found = fd_links.socket_fds(FD_DIR)
            assert not_a_socket.fileno() not in found.values()
        for pair in pairs:
            for sock in pair:
                assert found[inode_of(sock)] == sock.fileno()
    finally:
        for one, other in pairs:
            one.close()
            other.close()
