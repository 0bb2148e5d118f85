"""The ruleset lifecycle commands of `segflow` against a running server: deploy, versions, show, rollback, diff.

Each prints for people by default and one JSON document with `--json`; problems in a ruleset print in the one
diagnostics form (`FILE:LINE:COLUMN: error: PATH: CODE: MESSAGE`). Exit codes: 0 done, 1 refused or failed
(server down, unknown version, ...); diff, like diff(1): 0 the same, 1 different, 2 failed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from segflow.v1 import ruleset_service_pb2 as pb, ruleset_service_pb2_grpc

from segflow.rules.errors import RuleError
from segflow.rules.ruleset_dump import dump_ruleset
from segflow.rules.ruleset_yaml import load_ruleset_yaml
from segflow.server.security.tls import ClientTLS

_TIMEOUT = 30.0


class CallFailed(Exception):
    """A call to the server failed; the message says which and why."""


def client_arguments(command: argparse.ArgumentParser) -> None:
    """The flags of a command that calls a running server: where, over what TLS, with which token, and --json."""
    command.add_argument("--target", default="127.0.0.1:50051", help="host:port of the server")
    command.add_argument("--ca", default="", help="PEM CA bundle that signed the server's certificate: use TLS")
    command.add_argument("--cert", default="", help="PEM client certificate (mutual TLS; with --key)")
    command.add_argument("--key", default="", help="PEM private key of --cert")
    command.add_argument("--token", default=None,
                         help="bearer token (default $SEGFLOW_TOKEN; prefer the variable: flags show in ps)")


def json_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def channel_argument(command: argparse.ArgumentParser, help: str) -> None:
    command.add_argument("--channel", default="", help=help)


def connect(args: argparse.Namespace) -> grpc.Channel:
    return ClientTLS(args.ca, args.cert, args.key).channel(args.target)


def credentials(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    secret = args.token if args.token is not None else os.environ.get("SEGFLOW_TOKEN", "")
    return (("authorization", f"Bearer {secret}"),) if secret else ()


def violations(error: grpc.RpcError) -> list[str]:
    """The per-field descriptions of a refused call."""
    status = rpc_status.from_call(error)
    descriptions = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            descriptions += [v.description for v in bad.field_violations]
    return descriptions


def located(file: str, diagnostic: pb.Diagnostic, severity: str) -> str:
    """A server's Diagnostic in the one diagnostics form."""
    return RuleError(code=diagnostic.code, message=diagnostic.message, path=diagnostic.path, expression="",
                     expr_line=diagnostic.expression_line, expr_column=diagnostic.expression_column,
                     line=diagnostic.line or None, column=diagnostic.column or None, caret=diagnostic.caret,
                     suggestion=diagnostic.suggestion or None).located(file, severity)


def as_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class Admin:
    """RulesetService calls for one command; a failed call raises CallFailed naming the RPC."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    def __enter__(self) -> "Admin":
        self.channel = connect(self.args)
        self.stub = ruleset_service_pb2_grpc.RulesetServiceStub(self.channel)
        return self

    def __exit__(self, *exc) -> None:
        self.channel.close()

    def call(self, rpc: str, request):
        try:
            return getattr(self.stub, rpc)(request, timeout=_TIMEOUT, metadata=credentials(self.args))
        except grpc.RpcError as exc:
            raise CallFailed(f"{exc.code().name}: {exc.details()}") from exc

    def versions(self, channel: str = "") -> list[pb.RulesetVersion]:
        found, token = [], ""
        while True:
            page = self.call("ListRulesets", pb.ListRulesetsRequest(page_token=token, channel=channel))
            found += page.versions
            token = page.next_page_token
            if not token:
                return found


def _run(args: argparse.Namespace, body, failed: int = 1) -> int:
    try:
        with Admin(args) as admin:
            return body(admin)
    except CallFailed as exc:
        print(f"segflow {args.command}: {exc}", file=sys.stderr)
        return failed


def deploy(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text()
    source = pb.RulesetSource(yaml=text)
    named = load_ruleset_yaml(text).ruleset.channel
    if args.channel and named != args.channel:
        print(f"segflow deploy: refused, nothing changed: {args.file} is for channel {named!r}, not "
              f"{args.channel!r}", file=sys.stderr)
        return 1

    def body(admin: Admin) -> int:
        try:
            response = admin.stub.DeployRuleset(pb.DeployRulesetRequest(
                source=source, author=args.author, comment=args.comment), timeout=_TIMEOUT,
                metadata=credentials(args))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise CallFailed(f"{exc.code().name}: {exc.details()}") from exc
            checked = admin.call("ValidateRuleset", pb.ValidateRulesetRequest(source=source))
            if args.json:
                print(json.dumps({"file": args.file, "deployed": False, **as_dict(checked)}, indent=2))
            print(f"segflow deploy: refused, nothing changed: {exc.details()}", file=sys.stderr)
            for diagnostic in checked.errors:
                print(located(args.file, diagnostic, "error"), file=sys.stderr)
            if not checked.errors:  # refused for another reason (e.g. a callout the server cannot start)
                for violation in violations(exc):
                    print(f"{args.file}: error: {violation}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps({"file": args.file, "deployed": not response.unchanged, **as_dict(response)}, indent=2))
        else:
            state = "unchanged, still" if response.unchanged else "deployed as"
            print(f"{args.file}: {state} version {response.version.version} of channel {response.version.channel!r} "
                  f"(digest {response.version.digest[:12]})")
        for warning in response.warnings:
            print(located(args.file, warning, "warning"), file=sys.stderr)
        return 0

    return _run(args, body)


def versions(args: argparse.Namespace) -> int:
    def body(admin: Admin) -> int:
        found = admin.versions(args.channel)
        if args.json:
            print(json.dumps([as_dict(v) for v in found], indent=2))
            return 0
        print(f"{'':1} {'version':>7}  {'deployed at (UTC)':19}  {'digest':12}  {'channel':10}  author: comment")
        for v in found:
            when = v.deployed_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
            print(f"{'*' if v.active else ' '} {v.version:>7}  {when:19}  {v.digest[:12]:12}  {v.channel:10}  "
                  f"{v.author or '-'}: {v.comment or '-'}")
        return 0

    return _run(args, body)


def show(args: argparse.Namespace) -> int:
    def body(admin: Admin) -> int:
        response = admin.call("GetRuleset", pb.GetRulesetRequest(version=args.version, channel=args.channel))
        if args.json:
            print(json.dumps(as_dict(response), indent=2))
            return 0
        v = response.version
        print(f"# version {v.version} of channel {v.channel!r}{' (active)' if v.active else ''}, deployed "
              f"{v.deployed_at.ToDatetime().isoformat()}Z by {v.author or '-'}: {v.comment or '-'}")
        print(dump_ruleset(response.ruleset), end="")
        return 0

    return _run(args, body)


def rollback(args: argparse.Namespace) -> int:
    def body(admin: Admin) -> int:
        response = admin.call("RollbackRuleset", pb.RollbackRulesetRequest(version=args.version, author=args.author,
                                                                          channel=args.channel))
        if args.json:
            print(json.dumps(as_dict(response), indent=2))
        elif response.version.comment.startswith("rollback"):
            print(f"rolled back: version {response.version.version} is active, with the ruleset of version "
                  f"{args.version}")
        else:
            print(f"unchanged: version {response.version.version} is active and already has the ruleset of "
                  f"version {args.version}")
        return 0

    return _run(args, body)


def diff(args: argparse.Namespace) -> int:
    """Exit 0 when the two are the same ruleset, 1 when they differ (like diff(1)), 2 when one cannot be read."""

    def body(admin: Admin) -> int:
        old_label, old = _side(admin, args.old, args.channel)
        new_label, new = _side(admin, args.new or "active", args.channel)
        lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                          old_label, new_label))
        if args.json:
            print(json.dumps({"old": old_label, "new": new_label, "identical": not lines, "diff": "".join(lines)},
                             indent=2))
        else:
            print("".join(lines) if lines else f"{old_label} and {new_label} are the same ruleset", end="" if lines
                  else "\n")
        return 1 if lines else 0

    return _run(args, body, failed=2)


def _side(admin: Admin, what: str, channel: str) -> tuple[str, str]:
    """(label, ruleset YAML) of a version number, `active` (of `channel`), or a ruleset file; both sides in one
    normal form."""
    if what == "active" or what.isdigit():
        response = admin.call("GetRuleset", pb.GetRulesetRequest(version=0 if what == "active" else int(what),
                                                                 channel=channel))
        return f"version {response.version.version}", dump_ruleset(response.ruleset)
    loaded = load_ruleset_yaml(Path(what).read_text())
    if loaded.errors:
        raise CallFailed(f"{what} is not a readable ruleset: {loaded.errors[0].located(what)}")
    return what, dump_ruleset(loaded.ruleset)


def add_commands(commands: Any) -> None:
    """Register deploy, versions, show, rollback and diff on the `segflow` subcommand parsers."""
    push = commands.add_parser("deploy", help="deploy a ruleset file to a running server")
    push.add_argument("file", help="the ruleset YAML file")
    client_arguments(push)
    push.add_argument("--author", default="", help="who deploys (kept with the version)")
    push.add_argument("--comment", default="", help="why (kept with the version)")
    channel_argument(push, "refuse the file unless it is for this channel (the file names its channel)")
    json_argument(push)
    push.set_defaults(handler=deploy)
    listing = commands.add_parser("versions", help="list the deployed versions, newest first (* marks the active)")
    client_arguments(listing)
    channel_argument(listing, "only this channel's versions (default: every channel's)")
    json_argument(listing)
    listing.set_defaults(handler=versions)
    view = commands.add_parser("show", help="print a deployed version as ruleset YAML")
    view.add_argument("version", type=int, nargs="?", default=0,
                      help="version number (the active one of --channel if omitted)")
    client_arguments(view)
    channel_argument(view, "the channel (default: the only one served); with a version, it must be this channel's")
    json_argument(view)
    view.set_defaults(handler=show)
    back = commands.add_parser("rollback", help="serve an earlier version again (as a new version)")
    back.add_argument("version", type=int, help="the version to serve again")
    back.add_argument("--author", default="", help="who rolls back (kept with the version)")
    client_arguments(back)
    channel_argument(back, "refuse unless the version is this channel's (default: the version's own channel)")
    json_argument(back)
    back.set_defaults(handler=rollback)
    compare = commands.add_parser("diff", help="compare two versions, or a ruleset file with the active version "
                                               "(exit 1 when they differ)")
    compare.add_argument("old", help="a version number, 'active', or a ruleset file")
    compare.add_argument("new", nargs="?", default="", help="the same kinds (the active version if omitted)")
    client_arguments(compare)
    channel_argument(compare, "whose active version 'active' means (default: the only channel served)")
    json_argument(compare)
    compare.set_defaults(handler=diff)
