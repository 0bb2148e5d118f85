"""Claims a listening address for one server: refused if any other process has it, shared only by our workers.

grpcio sets SO_REUSEPORT on its listeners by default, so a second server on a taken port would silently take a
share of the connections. A single-process server turns that off (`grpc.so_reuseport` 0). The parent of
several workers binds the address without SO_REUSEPORT first, which fails if anything holds it, then holds it
with SO_REUSEPORT (bound, never listening: it receives no connections) while its workers listen beside it;
any other server, segflow or not, that tries the address after that finds it taken.
"""

from __future__ import annotations

import socket


class AddressInUse(OSError):
    """The address is bound by another process."""


def split(address: str) -> tuple[str, int]:
    """(host, port) of `host:port` or `[v6]:port`."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bad address {address!r}: use host:port")
    return host.strip("[]"), int(port)


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def in_use(address: str) -> AddressInUse:
    return AddressInUse(f"{address} is already in use by another process; stop it or choose another --address")


def claim(address: str) -> tuple[socket.socket, int]:
    """Bind `address` for this host's workers; returns the held socket and the bound port (chosen by the system
    for port 0). Raises AddressInUse if another process has the address."""
    host, port = split(address)
    family, kind, proto, _, where = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no owner
        try:
            probe.bind(where)
        except OSError as exc:
            raise in_use(address) from exc
        port = probe.getsockname()[1]
    held = socket.socket(family, kind, proto)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((where[0], port, *where[2:]))
    except OSError as exc:  # taken in the instant between the probe and the claim
        held.close()
        raise in_use(address) from exc
    return held, port
