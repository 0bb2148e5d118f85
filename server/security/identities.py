"""The auth file: bearer tokens (stored as sha256 hashes, never in clear) and client certificate names, each
with the roles it holds. Re-read when the file changes; a file that no longer parses keeps the last good one.

    tokens:
      - {name: web-backend, sha256: <hex of sha256(token)>, roles: [decide, subscribe]}
    clients:                      # mutual TLS: a certificate's CN or a DNS/URI subject alternative name
      - {name: deployer.internal, roles: [admin]}
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROLES = ("decide", "subscribe", "admin")
# How often a call may look at the file's modification time: changes show within this many seconds.
RELOAD_CHECK_SECONDS = 1.0
# Verified tokens remembered per loaded file. Only tokens that verified are kept, so an unknown token never
# takes a place, and distinct tokens that verify are at most the file's entries; the bound is a backstop.
VERIFIED_TOKENS_MAX = 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: the name from the auth file, its roles, and how it proved it ("token", "certificate")."""

    name: str
    roles: frozenset[str]
    via: str


def hash_token(token: str) -> str:
    """The hex sha256 of a token, as the auth file stores it (tokens are random, so a fast hash suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Identities:
    tokens: dict[str, Identity]  # by sha256 hex
    clients: dict[str, Identity]  # by certificate name
    # token -> identity of tokens that verified: a call with a known token skips the hash. It belongs to this
    # parse of the file, so a reload (a new Identities) starts with none and a revoked token is hashed again.
    _verified: dict[str, Identity] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, where: str = "auth file") -> "Identities":
        """Parse an auth file; raises ValueError naming the entry at fault."""
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{where}: not YAML: {exc}") from None
        if not isinstance(document, dict) or set(document) - {"tokens", "clients"}:
            raise ValueError(f"{where}: expected a mapping with `tokens` and/or `clients`")
        tokens: dict[str, Identity] = {}
        for i, entry in enumerate(document.get("tokens") or ()):
            identity = _identity(entry, f"{where}: tokens[{i}]", "token", {"name", "sha256", "roles"})
            digest = str(entry.get("sha256", "")).lower()
            if len(digest) != 64 or set(digest) - set("0123456789abcdef"):
                raise ValueError(f"{where}: tokens[{i}].sha256: expected 64 hex digits (`segflow token` prints one)")
            if digest in tokens:
                raise ValueError(f"{where}: tokens[{i}]: the same token as {tokens[digest].name!r}")
            tokens[digest] = identity
        clients: dict[str, Identity] = {}
        for i, entry in enumerate(document.get("clients") or ()):
            identity = _identity(entry, f"{where}: clients[{i}]", "certificate", {"name", "roles"})
            clients[identity.name] = identity
        return cls(tokens, clients)

    def by_token(self, token: str) -> Identity | None:
        identity = self._verified.get(token)
        if identity is None:
            identity = self.tokens.get(hash_token(token))
            if identity is not None and len(self._verified) < VERIFIED_TOKENS_MAX:
                self._verified[token] = identity
        return identity

    def by_certificate(self, names: list[str]) -> Identity | None:
        """The first of a certificate's names (CN, then SANs) the file lists."""
        for name in names:
            identity = self.clients.get(name)
            if identity is not None:
                return identity
        return None


def _identity(entry, where: str, via: str, keys: set[str]) -> Identity:
    if not isinstance(entry, dict) or set(entry) - keys:
        raise ValueError(f"{where}: expected a mapping with {', '.join(sorted(keys))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: required")
    roles = entry.get("roles") or []
    if not isinstance(roles, list) or not roles:
        raise ValueError(f"{where}.roles: a list of {', '.join(ROLES)}")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"{where}.roles: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    return Identity(name, frozenset(roles), via)


class AuthFile:
    """An auth file kept current: `current()` re-reads it when its modification time changed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp = self._stat()
        self._identities = Identities.parse(self.path.read_text(), str(self.path))  # a bad file fails the start
        self._next_check = time.monotonic() + RELOAD_CHECK_SECONDS
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> Identities:
        now = time.monotonic()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = now + RELOAD_CHECK_SECONDS
                stamp = self._stat()
                if stamp != self._stamp:
                    self._stamp = stamp
                    self._reload()
            finally:
                self._lock.release()
        return self._identities

    def _reload(self) -> None:
        try:
            self._identities = Identities.parse(self.path.read_text(), str(self.path))
        except (OSError, ValueError) as exc:
            log.error("auth file not reloaded, the last good one stays in force: %s", exc)
            return
        log.warning("auth file reloaded: %d token(s), %d client certificate name(s)",
                    len(self._identities.tokens), len(self._identities.clients))
