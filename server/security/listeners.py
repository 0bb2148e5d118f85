"""How the service's listeners are secured: plaintext or TLS ports, the auth interceptor, and the loud
warning for a service reachable from other hosts with no authentication."""

from __future__ import annotations

import ipaddress
import logging

import grpc

from segflow.server.config import Config
from segflow.server.security.auth import AuthInterceptor
from segflow.server.security.identities import AuthFile
from segflow.server.security.tls import server_credentials

log = logging.getLogger("segflow.security")


def auth_interceptors(config: Config) -> list[grpc.ServerInterceptor]:
    """The auth interceptor when an auth file is configured; none otherwise (every call is let through)."""
    return [AuthInterceptor(AuthFile(config.auth_file))] if config.auth_file else []


def bind(server: grpc.Server, address: str, config: Config) -> int:
    """Add a port for `address`, TLS when a certificate is configured; returns the bound port."""
    if config.tls_cert:
        return server.add_secure_port(address, server_credentials(config.tls_cert, config.tls_key,
                                                                  config.tls_client_ca or None))
    return server.add_insecure_port(address)


def is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name, or "" / "[::]" / "0.0.0.0" style wildcards
        return False


def warn_if_exposed(config: Config) -> None:
    """Log a warning when a listener is reachable from other hosts and callers are not authenticated."""
    if config.auth_file:
        return
    for address in filter(None, (config.address, config.admin_address)):
        if not is_loopback(address):
            gate = "mutual TLS only (any certificate of the client CA holds every role)" if config.tls_client_ca \
                else "NO AUTHENTICATION: anyone who can reach it may deploy, roll back and forget customers"
            log.warning("segflow listens on %s with %s; set --auth-file (and --tls-cert/--tls-key)", address, gate)
