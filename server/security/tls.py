"""TLS credentials from PEM files: the server's (with an optional client CA for mutual TLS) and a client's,
for every channel segflow dials (the CLI, remote callouts, profile sources)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


def _read(path: str | Path | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def server_credentials(cert: str | Path, key: str | Path, client_ca: str | Path | None = None,
                       ) -> grpc.ServerCredentials:
    """TLS with this certificate chain and key; with `client_ca`, mutual TLS: a client must present a
    certificate signed by that CA or the handshake fails."""
    return grpc.ssl_server_credentials([(_read(key), _read(cert))], root_certificates=_read(client_ca),
                                       require_client_auth=client_ca is not None)


@dataclass(frozen=True)
class ClientTLS:
    """How a client reaches a TLS server: the CA that signed it (system roots when unset) and, for mutual
    TLS, this client's certificate and key. `enabled` is false when nothing is set: a plaintext channel."""

    ca: str = ""
    cert: str = ""
    key: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert or self.key)

    def check(self) -> None:
        """Raise ValueError unless cert and key come together."""
        if bool(self.cert) != bool(self.key):
            raise ValueError("a client certificate needs its key (and a key its certificate)")

    def channel(self, target: str, options: tuple = ()) -> grpc.Channel:
        """A channel to `target`: TLS when anything is set, plaintext otherwise."""
        if not self.enabled:
            return grpc.insecure_channel(target, options=options)
        self.check()
        credentials = grpc.ssl_channel_credentials(_read(self.ca), _read(self.key), _read(self.cert))
        return grpc.secure_channel(target, credentials, options=options)
