"""TLS credentials from PEM files: the server's (with an optional client CA for mutual TLS) and a client's,
for every channel segflow dials (the CLI, remote callouts, profile sources)."""

from __future__ import annotations

import os
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

    @classmethod
    def of(cls, definition) -> "ClientTLS | None":
        """The TLS of a callout or profile source definition (its `tls` field); None for plaintext."""
        if not definition.HasField("tls"):
            return None
        return cls(definition.tls.ca_file, definition.tls.cert_file, definition.tls.key_file)

    def problems(self) -> list[tuple[str, str]]:
        """(field, problem) for files that are missing or a certificate without its key."""
        found = [(f"{name}_file", f"cannot read {path!r}") for name, path in
                 (("ca", self.ca), ("cert", self.cert), ("key", self.key)) if path and not os.access(path, os.R_OK)]
        if bool(self.cert) != bool(self.key):
            found.append(("cert_file", "cert_file and key_file go together"))
        return found

    def check(self) -> None:
        """Raise ValueError unless cert and key come together."""
        if bool(self.cert) != bool(self.key):
            raise ValueError("a client certificate needs its key (and a key its certificate)")

    def channel(self, target: str) -> grpc.Channel:
        """A channel to `target`: TLS when anything is set, plaintext otherwise (the CLI's choice)."""
        return self.secure_channel(target) if self.enabled else grpc.insecure_channel(target)

    def secure_channel(self, target: str, options=None) -> grpc.Channel:
        """A TLS channel to `target` (the system roots when no CA is set)."""
        self.check()
        credentials = grpc.ssl_channel_credentials(_read(self.ca), _read(self.key), _read(self.cert))
        return grpc.secure_channel(target, credentials, options=options)


def open_channel(target: str, tls: ClientTLS | None, options=None) -> grpc.Channel:
    """A channel segflow dials to a callout or profile source: TLS as its definition says, else plaintext."""
    return grpc.insecure_channel(target, options=options) if tls is None else tls.secure_channel(target, options)
