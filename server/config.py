"""Service settings: embedded defaults, overridden by a `--config` YAML file, then by `SEGFLOW_*` environment
variables, then by flags."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

# The trace exporters `otel_exporter` names (server/observability/tracing.py).
OTEL_EXPORTERS = ("none", "console", "otlp")


@dataclass(frozen=True)
class Config:
    # Where the gRPC server listens.
    address: str = "127.0.0.1:50051"
    # Where the embedded SQLite history lives.
    data_dir: Path = Path("segflow-data")
    # The ruleset files to serve, one per channel; the versions last active (or the shipped example) when empty.
    ruleset: tuple[Path, ...] = ()
    # Reload each ruleset file when it changes.
    watch: bool = False
    # History database: sqlite:///path or postgresql://...; SQLite under data_dir when empty.
    history_url: str = ""
    # Session store: "memory", or redis://host:port/db to share sessions between replicas.
    sessions_url: str = "memory"
    # Sliding idle timeout of a session, renewed by every call.
    idle_timeout_seconds: float = 1800.0
    # Live sessions kept before the least recently active is evicted.
    max_sessions: int = 100_000
    # How long anonymous session summaries are kept in history.
    anonymous_retention_days: float = 60.0
    # How long a customer's profile (attributes, counters, patterns, offer memory), and with sessions in Redis
    # their journeys, are kept after they last changed; 0 keeps them forever.
    profile_retention_days: float = 730.0
    # Action events kept for subscribers resuming after a disconnect.
    action_retention: int = 10_000
    # With sessions in Redis, action events older than this are also trimmed from the shared stream; 0: by
    # count only.
    action_retention_seconds: float = 3600.0
    # Action events queued per subscriber before it is told it fell behind.
    subscriber_queue: int = 1_000
    # Seconds in-flight calls get to finish on shutdown.
    grace_seconds: float = 10.0
    # Seconds a stop waits for queued history to be written before spilling the rest under data_dir.
    history_drain_seconds: float = 30.0
    # "batched": history is written within 0.2 s of a call; "sync": a call answers once its records are in a
    # journal under data_dir, so a kill loses none of them.
    history_durability: str = "batched"
    # Threads serving calls.
    workers: int = 32
    # Worker processes sharing the address, each pinned to a core (0: one per CPU this process may use; 1: the
    # single-process server).
    processes: int = 0
    # Port of the Prometheus /metrics endpoint, on the host of `address`; 0 turns metrics off.
    metrics_port: int = 0
    # A level for the root, and per logger: "info" or "segflow.server.history=debug,info".
    log_level: str = "INFO"
    # "text" (one line per record) or "json" (one JSON object per line).
    log_format: str = "text"
    # TLS: the server's certificate chain and key (PEM); with a client CA, clients must present a certificate
    # it signed (mutual TLS).
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # The auth file (hashed bearer tokens and client certificate names, with roles); empty: no authentication.
    auth_file: str = ""
    # Serve RulesetService (deploys, rollbacks, ForgetCustomer) on this address only, not on `address`.
    admin_address: str = ""
    # Serve gRPC server reflection (open to every caller, like health).
    reflection: bool = True
    # OpenTelemetry spans (the `otel` extra): "otlp", "console" or "none"; unset, OTEL_TRACES_EXPORTER, else none.
    otel_exporter: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.ruleset, (str, Path)):  # one file, as before there were channels
            object.__setattr__(self, "ruleset", (Path(self.ruleset),))

    @property
    def history(self) -> str:
        return self.history_url or f"sqlite:///{self.data_dir / 'history.db'}"


_HELP = {
    "address": "host:port to listen on",
    "data_dir": "directory of the embedded SQLite history",
    "ruleset": "ruleset YAML files to deploy at start, one per channel (several after one flag or the flag "
               "repeated; in the variable, separated by " + os.pathsep + ")",
    "watch": "reload each ruleset file when it changes (a file that fails changes nothing)",
    "history_url": "history database URL (sqlite:///path or postgresql://...)",
    "sessions_url": "session store: memory, redis://host:port/db or redis+cluster://host:port[?prefix=segflow:]",
    "idle_timeout_seconds": "session idle timeout",
    "max_sessions": "live sessions kept before eviction",
    "anonymous_retention_days": "days anonymous session summaries are kept",
    "profile_retention_days": "days a customer profile (and journeys in Redis) is kept after it last changed (0: forever)",
    "action_retention": "action events kept for subscribers that resume",
    "action_retention_seconds": "with Redis sessions, seconds action events stay in the shared stream (0: no limit)",
    "subscriber_queue": "action events queued per subscriber before it is dropped",
    "grace_seconds": "seconds in-flight calls get on shutdown",
    "history_durability": "batched, or sync: a call answers once its history is journaled under --data-dir",
    "history_drain_seconds": "seconds a stop waits for queued history to be written before spilling it to --data-dir",
    "workers": "threads serving calls",
    "processes": "worker processes on the address, one per core (0: one per usable CPU; 1: a single process)",
    "metrics_port": "port of the Prometheus /metrics endpoint on the --address host, 0 for none (e.g. 9464)",
    "log_level": "DEBUG, INFO, WARNING or ERROR; per logger: segflow.access=warning,info",
    "log_format": "text or json (one object per line)",
    "tls_cert": "PEM certificate chain of the server: serve TLS",
    "tls_key": "PEM private key of --tls-cert",
    "tls_client_ca": "PEM CA bundle: require client certificates it signed (mutual TLS)",
    "auth_file": "YAML file of hashed bearer tokens and client certificate names with their roles",
    "admin_address": "host:port serving RulesetService on its own listener (not on --address)",
    "reflection": "serve gRPC server reflection",
    "otel_exporter": "export OpenTelemetry spans: otlp, console or none (the otel extra; $OTEL_TRACES_EXPORTER too)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, e.g. --idle-timeout-seconds; each defaults to its SEGFLOW_* variable."""
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="YAML file of settings, keyed like the flags (idle-timeout-seconds: 600) ($SEGFLOW_CONFIG)")
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        env = "SEGFLOW_" + f.name.upper()
        default = "" if f.default in (None, "") else f", default {f.default}"  # no "(default None)"
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{_HELP[f.name]} (${env}{default})")
        elif f.name == "ruleset":
            parser.add_argument(flag, nargs="+", action="extend", default=None, metavar="FILE",
                                help=f"{_HELP[f.name]} (${env})")
        else:
            parser.add_argument(flag, default=None, help=f"{_HELP[f.name]} (${env}{default})")


def load(args: argparse.Namespace | None = None, environ: dict[str, str] | None = None) -> Config:
    """Defaults, then the --config file, then SEGFLOW_* variables, then flags; raises ValueError naming a bad
    value (or a key of the file that is no setting)."""
    environ = os.environ if environ is None else environ
    config = Config()
    path = getattr(args, "config", None) or environ.get("SEGFLOW_CONFIG")
    in_file = read_file(Path(path)) if path else {}
    changes = {}
    for f in fields(Config):
        raw = getattr(args, f.name, None) if args is not None else None
        if raw is None:
            raw = environ.get("SEGFLOW_" + f.name.upper())
        if raw is None:
            raw = in_file.get(f.name)
        if raw is not None:
            changes[f.name] = _parse(f.name, f.default, raw)
    config = replace(config, **changes)
    if config.history_durability not in ("batched", "sync"):
        raise ValueError(f"bad value for history_durability: {config.history_durability!r} (batched or sync)")
    if config.processes < 0:
        raise ValueError(f"bad value for processes: {config.processes} (0 for one per CPU, or a count)")
    if config.watch and not config.ruleset:
        raise ValueError("--watch needs --ruleset: there is no file to watch")
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if config.otel_exporter.lower() not in ("", *OTEL_EXPORTERS):
        raise ValueError(f"bad value for otel_exporter: {config.otel_exporter!r} ({', '.join(OTEL_EXPORTERS)})")
    if config.tls_client_ca and not config.tls_cert:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
    return config


def read_file(path: Path) -> dict[str, str | bool | list[str]]:
    """The settings of a YAML config file by field name; keys are spelt like the flags (with - or _); `ruleset`
    may be a list of files."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    names = {f.name for f in fields(Config)}
    settings = {}
    for key, value in document.items():
        name = str(key).lstrip("-").replace("-", "_")
        if name not in names:
            raise ValueError(f"{path}: {key}: no such setting (segflow serve --help lists them)")
        if name == "ruleset" and isinstance(value, list) and all(isinstance(item, str) for item in value):
            settings[name] = value
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"{path}: {key}: expected a single value")
        settings[name] = value if isinstance(value, bool) else str(value)
    return settings


def _parse(name: str, default, raw):
    """A setting's value from a flag, variable or file entry (str, bool, or a list of files for `ruleset`)."""
    if isinstance(raw, bool):
        return raw
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if name == "ruleset":
            return tuple(Path(item) for item in (raw if isinstance(raw, list) else raw.split(os.pathsep)) if item)
        if name == "data_dir":
            return Path(raw)
        return raw
    except ValueError:
        raise ValueError(f"bad value for {name}: {raw!r}") from None
