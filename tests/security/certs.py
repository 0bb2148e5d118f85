"""Test certificates made with the openssl command in a temporary folder: a CA, a server certificate for
127.0.0.1/localhost, and client certificates by common name."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Authority:
    """A CA in `folder` that issues certificates; each `issue` returns (cert path, key path)."""

    def __init__(self, folder: Path, name: str = "segflow-test-ca"):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=folder)
        self.cert = folder / f"{name}.pem"
        self.key = folder / f"{name}.key"

    def issue(self, common_name: str, sans: str = "") -> tuple[Path, Path]:
        stem = common_name.replace(".", "_")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={common_name}", cwd=self.folder)
        extensions = self.folder / f"{stem}.ext"
        extensions.write_text(f"subjectAltName={sans}\n" if sans else "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", self.cert.name, "-CAkey", self.key.name,
                 "-CAcreateserial", "-out", f"{stem}.pem", "-days", "2", "-extfile", extensions.name, cwd=self.folder)
        return self.folder / f"{stem}.pem", self.folder / f"{stem}.key"

    def server(self) -> tuple[Path, Path]:
        return self.issue("localhost", "DNS:localhost,IP:127.0.0.1")
