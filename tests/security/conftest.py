"""Certificates shared by the security tests (made once per session: openssl takes a moment)."""

from __future__ import annotations

import pytest

from tests.security.certs import Authority


@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> Authority:
    return Authority(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def server_pair(ca):
    return ca.server()


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory) -> Authority:
    return Authority(tmp_path_factory.mktemp("other-pki"), "another-ca")
