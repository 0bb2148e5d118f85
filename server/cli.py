"""The `segflow` command: serve the rules engine, and validate or deploy rulesets."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import grpc
from segflow.v1 import ruleset_service_pb2 as pb, ruleset_service_pb2_grpc

from server import config as settings


def serve(args: argparse.Namespace) -> int:
    from server.app import create_service  # the server's imports are only paid by `serve`

    try:
        config = settings.load(args)
    except ValueError as exc:
        print(f"segflow: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = create_service(config)
    print(f"segflow serving on {config.address.rsplit(':', 1)[0]}:{service.port}", flush=True)
    stop.wait()
    logging.getLogger("segflow").info("shutting down: finishing in-flight calls, flushing history")
    service.stop()
    return 0


def validate(args: argparse.Namespace) -> int:
    from server.rulesets import Source, check_source

    errors, warnings = check_source(Source(yaml=Path(args.file).read_text()))
    for problem in errors:
        print(f"{args.file}: error: {problem}", file=sys.stderr)
    for problem in warnings:
        print(f"{args.file}: warning: {problem}", file=sys.stderr)
    print(f"{args.file}: {len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


def deploy(args: argparse.Namespace) -> int:
    request = pb.DeployRulesetRequest(source=pb.RulesetSource(yaml=Path(args.file).read_text()),
                                      author=args.author, comment=args.comment)
    with grpc.insecure_channel(args.target) as channel:
        try:
            response = ruleset_service_pb2_grpc.RulesetServiceStub(channel).DeployRuleset(request, timeout=30)
        except grpc.RpcError as exc:
            print(f"segflow deploy: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    state = "unchanged, still" if response.unchanged else "deployed as"
    print(f"{args.file}: {state} version {response.version.version} (digest {response.version.digest[:12]})")
    for warning in response.warnings:
        print(f"{args.file}: warning: {warning.path}: {warning.message}", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="segflow", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the gRPC service")
    settings.add_arguments(run)
    run.set_defaults(handler=serve)
    check = commands.add_parser("validate", help="check a ruleset file and print every problem")
    check.add_argument("file")
    check.set_defaults(handler=validate)
    push = commands.add_parser("deploy", help="deploy a ruleset file to a running server")
    push.add_argument("file")
    push.add_argument("--target", default="127.0.0.1:50051", help="host:port of the server")
    push.add_argument("--author", default="", help="who deploys (kept with the version)")
    push.add_argument("--comment", default="", help="why (kept with the version)")
    push.set_defaults(handler=deploy)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
