"""The `segflow` command: serve the rules engine, validate and simulate rulesets, forget a customer; the
commands of a ruleset's lifecycle on a running server (deploy, versions, show, rollback, diff) are in
lifecycle.py.

Problems in a ruleset print as `FILE:LINE:COLUMN: error: PATH: CODE: MESSAGE`, the form editors and CI logs
link to, followed by the suggestion and the expression with a caret under the column.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import grpc
from segflow.v1 import ruleset_service_pb2 as pb, ruleset_service_pb2_grpc

from segflow.server import config as settings, lifecycle, logs
from segflow.server.security.identities import hash_token, new_token


def serve(args: argparse.Namespace) -> int:
    from segflow.server.app import create_service, settle_heap  # the server's imports are only paid by `serve`

    try:
        config = settings.load(args)
    except ValueError as exc:
        print(f"segflow: {exc}", file=sys.stderr)
        return 2
    try:
        logs.configure(config.log_format, config.log_level)
    except ValueError as exc:
        print(f"segflow: {exc}", file=sys.stderr)
        return 2
    processes = config.processes or len(os.sched_getaffinity(0))
    if processes > 1:
        from segflow.server.workers import serve_workers

        return serve_workers(config, processes)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        service = create_service(config)
    except ValueError as exc:  # a setting the service could not use (e.g. an auth file that does not parse)
        print(f"segflow: {exc}", file=sys.stderr)
        return 2
    settle_heap()
    print(f"segflow serving on {config.address.rsplit(':', 1)[0]}:{service.port}", flush=True)
    stop.wait()
    logging.getLogger("segflow").info("shutting down: finishing in-flight calls, flushing history")
    lost = service.stop()
    if lost:
        print(f"segflow: {lost} acknowledged history record(s) could be neither written nor spilled", file=sys.stderr)
        return 1
    return 0


def report(file: str, severity: str, problem) -> None:
    """Print one RuleError to stderr as FILE:LINE:COLUMN, then its expression and caret."""
    print(problem.located(file, severity), file=sys.stderr)


def _check_file(file: str, summary=None) -> int:
    """Report every problem of a ruleset file (problems on stderr, the summary line on `summary`, stdout by
    default); returns the number of errors."""
    from segflow.server.rulesets import Source, check_source

    errors, warnings = check_source(Source(yaml=Path(file).read_text()))
    for problem in sorted(errors, key=_in_file_order):
        report(file, "error", problem)
    for problem in sorted(warnings, key=_in_file_order):
        report(file, "warning", problem)
    print(f"{file}: {len(errors)} error(s), {len(warnings)} warning(s)", file=summary or sys.stdout)
    return len(errors)


def _in_file_order(problem) -> tuple[int, int]:
    return problem.line or 0, problem.column or 0


def validate(args: argparse.Namespace) -> int:
    """Check each file; 1 when any has errors. With --json, one document: [{file, valid, errors, warnings}]."""
    if not args.json:
        return 1 if sum(_check_file(file) for file in args.files) else 0
    from segflow.server.rulesets import Source, check_source

    reports = []
    for file in args.files:
        errors, warnings = check_source(Source(yaml=Path(file).read_text()))
        reports.append({"file": file, "valid": not errors,
                        "errors": [_problem(file, e, "error") for e in sorted(errors, key=_in_file_order)],
                        "warnings": [_problem(file, w, "warning") for w in sorted(warnings, key=_in_file_order)]})
    print(json.dumps(reports, indent=2))
    return 0 if all(r["valid"] for r in reports) else 1


def _problem(file: str, problem, severity: str) -> dict:
    return {"file": file, "line": problem.line or 0, "column": problem.column or 0, "severity": severity,
            "path": problem.path, "code": problem.code, "message": problem.message,
            "suggestion": problem.suggestion or "", "text": problem.located(file, severity)}


def simulate(args: argparse.Namespace) -> int:
    """Run scenario files against a ruleset file, locally; 0 only when the ruleset is valid and every step passes."""
    from segflow.server import simulate_report as report_as
    from segflow.server.rulesets import Source
    from segflow.server.simulate import (ScenarioError, load_scenario, merge_coverage, simulate as run,
                                         simulation_version)

    if _check_file(args.ruleset, summary=sys.stdout if args.format == "text" else sys.stderr):
        return 1
    runs = []
    with simulation_version(Source(yaml=Path(args.ruleset).read_text())) as (compiled, callouts):
        for file in args.scenarios:
            try:
                scenario = load_scenario(Path(file).read_text())
            except ScenarioError as exc:
                print(f"{file}: error: {exc}", file=sys.stderr)
                runs.append(report_as.ScenarioRun(file, error=str(exc)))
                continue
            result = run(compiled, scenario, clock=lambda: datetime.now(timezone.utc), callouts=callouts)
            runs.append(report_as.ScenarioRun(file, scenario.name, result))
    coverage = merge_coverage(r.result.coverage for r in runs if r.result is not None)
    if args.format == "json":
        print(report_as.as_json(runs, coverage), end="")
    elif args.format == "junit":
        print(report_as.junit(runs, coverage), end="")
    else:
        print(report_as.text(runs, coverage if args.coverage else None, args.explain), end="")
    return 0 if all(r.passed for r in runs) else 1


def forget(args: argparse.Namespace) -> int:
    """Erase what a running server remembers of one customer (ForgetCustomer)."""
    from segflow.v1 import session_pb2
    from segflow.rules.values import to_value

    ids = {}
    for pair in args.id:
        name, sep, value = pair.partition("=")
        if not (name and sep):
            print(f"segflow forget: --id takes FIELD=VALUE, not {pair!r}", file=sys.stderr)
            return 2
        ids[name] = to_value(value)
    request = pb.ForgetCustomerRequest(audience=session_pb2.Audience(level=args.level, id_fields=ids),
                                       reason=args.reason)
    with lifecycle.connect(args) as channel:
        try:
            response = ruleset_service_pb2_grpc.RulesetServiceStub(channel).ForgetCustomer(
                request, timeout=30, metadata=lifecycle.credentials(args))
        except grpc.RpcError as exc:
            print(f"segflow forget: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(f"forgot {';'.join(args.id)} ({args.level}): {response.profiles_deleted} profile(s), "
          f"{response.history_rows_deleted} history row(s)")
    return 0


def health(args: argparse.Namespace) -> int:
    """Ask a running server's gRPC health service; 0 only when it answers SERVING (for container probes)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with lifecycle.connect(args) as channel:
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout).status
        except grpc.RpcError as exc:
            print(f"segflow health: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1


def token(args: argparse.Namespace) -> int:
    """Print a new bearer token (give it to the client) and its auth file entry (only the hash is kept)."""
    roles = args.role or ["decide"]
    secret = new_token()
    print(f"token (give it to {args.name}; it is not stored anywhere): {secret}")
    print("auth file entry (under `tokens:`):")
    print(f"  - {{name: {args.name}, sha256: {hash_token(secret)}, roles: [{', '.join(roles)}]}}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="segflow", description=__doc__)
    root.add_argument("--version", action="version", version=f"segflow {_version()}")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the gRPC service")
    settings.add_arguments(run)
    run.set_defaults(handler=serve)
    check = commands.add_parser("validate", help="check ruleset files and print every problem (exit 1 on errors)")
    check.add_argument("files", nargs="+", metavar="file", help="ruleset YAML files")
    lifecycle.json_argument(check)
    check.set_defaults(handler=validate)
    trial = commands.add_parser("simulate", help="run scenario files against a ruleset file, with no side effects")
    trial.add_argument("ruleset", help="the ruleset YAML file to test")
    trial.add_argument("scenarios", nargs="+", metavar="scenario", help="scenario YAML files (server/simulate.py)")
    trial.add_argument("--explain", action="store_true", help="print every step's trace (failing steps always)")
    trial.add_argument("--coverage", action="store_true",
                       help="list the rules, segments and treatment rules no scenario exercised (json and junit "
                            "always include it)")
    trial.add_argument("--format", choices=("text", "json", "junit"), default="text",
                       help="text for people (the default), json for programs, junit XML for CI servers")
    trial.set_defaults(handler=simulate)
    lifecycle.add_commands(commands)
    erase = commands.add_parser("forget", help="erase a customer's profile, counters, patterns and history rows")
    lifecycle.client_arguments(erase)
    erase.add_argument("--level", default="Customer", help="the customer's audience level")
    erase.add_argument("--id", action="append", required=True, metavar="FIELD=VALUE",
                       help="an audience id field of the customer (repeat for several)")
    erase.add_argument("--reason", default="", help="why (logged with the erasure)")
    erase.set_defaults(handler=forget)
    probe = commands.add_parser("health", help="check a running server's health (exit 0 when SERVING)")
    lifecycle.client_arguments(probe)
    probe.add_argument("--service", default="", help="a service name; empty for the whole server")
    probe.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    probe.set_defaults(handler=health)
    mint = commands.add_parser("token", help="make a new bearer token and print its auth file entry")
    mint.add_argument("--name", required=True, help="who will hold the token (logged as the caller)")
    mint.add_argument("--role", action="append", choices=("decide", "subscribe", "admin"),
                      help="a role the token holds (repeat; default decide)")
    mint.set_defaults(handler=token)
    return root


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("segflow")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except (OSError, UnicodeDecodeError) as exc:  # a file that cannot be read (or is not UTF-8), an address in use
        print(f"segflow {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
