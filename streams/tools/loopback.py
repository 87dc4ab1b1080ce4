"""Free loopback ports, for the local brokers and workers that the bench starts (and the integration
tests, which start theirs the same way)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A port P such that P and P+1 (the broker's controller) are both free on loopback."""
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise OSError("no two consecutive free ports on loopback")
