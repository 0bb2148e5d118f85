"""RulesetService over gRPC: validate, deploy, inspect and roll back rulesets."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from segflow.v1 import ruleset_pb2, ruleset_service_pb2 as pb, ruleset_service_pb2_grpc

from segflow.rules.errors import RuleError
from segflow.server import calls
from segflow.server.errors import FailedPrecondition, InvalidArgument, NotFound, grpc_errors
from segflow.server.logs import fields
from segflow.server.rulesets import RulesetRegistry, Source, check_source
from segflow.server.simulate import MAX_STEPS, simulate, simulation_version

_MAX_PAGE = 100
audit = logging.getLogger("segflow.audit")


def author_of(requested: str) -> str:
    """Who makes a change: the authenticated identity when auth is on, else what the request says."""
    call = calls.current()
    return call.identity if call is not None and call.identity else requested


def _audit(action: str, context, **values) -> None:
    call = calls.current()
    audit.info("%s", action, extra=fields(audit=action, identity=call.identity if call else "",
                                         peer=context.peer(), **values))


def diagnostic(error: RuleError, severity: int) -> pb.Diagnostic:
    return pb.Diagnostic(severity=severity, code=error.code, message=error.message, path=error.path,
                         line=error.line or 0, column=error.column or 0, expression_line=error.expr_line,
                         expression_column=error.expr_column, caret=error.caret, suggestion=error.suggestion or "")


def source_of(request_source: pb.RulesetSource) -> Source:
    kind = request_source.WhichOneof("source")
    if kind is None:
        raise InvalidArgument("source: give the ruleset as yaml or as a message", reason="MISSING_FIELD",
                              fields=[("source", "is required")])
    if kind == "yaml":
        return Source(yaml=request_source.yaml)
    return Source(ruleset=request_source.ruleset)


def version_message(record, active_version: int) -> pb.RulesetVersion:
    message = pb.RulesetVersion(version=record.version, name=record.name, channel=record.channel,
                                digest=record.digest, author=record.author, comment=record.comment,
                                active=record.version == active_version)
    message.deployed_at.FromDatetime(record.deployed_at)
    return message


class RulesetServicer(ruleset_service_pb2_grpc.RulesetServiceServicer):
    def __init__(self, registry: RulesetRegistry, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 forget: Callable[[pb.ForgetCustomerRequest], pb.ForgetCustomerResponse] | None = None):
        self.registry = registry
        self.clock = clock
        self.forget = forget  # erases a customer (the service's profiles and history)

    def _message(self, record) -> pb.RulesetVersion:
        return version_message(record, self.registry.version_of(record.channel))

    @grpc_errors
    def ValidateRuleset(self, request, context):
        errors, warnings = check_source(source_of(request.source))
        return pb.ValidateRulesetResponse(
            valid=not errors, errors=[diagnostic(e, pb.SEVERITY_ERROR) for e in errors],
            warnings=[diagnostic(w, pb.SEVERITY_WARNING) for w in warnings])

    @grpc_errors
    def DeployRuleset(self, request, context):
        author = author_of(request.author)
        deployment = self.registry.deploy(source_of(request.source), author, request.comment)
        _audit("deploy", context, version=deployment.version.version, digest=deployment.version.digest,
               unchanged=deployment.unchanged, author=author, comment=request.comment)
        return pb.DeployRulesetResponse(
            version=self._message(deployment.version),
            warnings=[diagnostic(w, pb.SEVERITY_WARNING) for w in deployment.compiled.warnings],
            unchanged=deployment.unchanged)

    @grpc_errors
    def GetRuleset(self, request, context):
        version = request.version or self.registry.current(request.channel).version
        record = self.registry.versions.get(version)
        if record is None or (request.channel and record.channel != request.channel):
            why = "no such version" if record is None else f"a version of channel {record.channel!r}"
            raise NotFound(f"no ruleset version {version}" + (f" of channel {request.channel!r}" if request.channel
                                                              else ""),
                           reason="VERSION_NOT_FOUND", fields=[("version", why)])
        return pb.GetRulesetResponse(version=self._message(record),
                                     ruleset=ruleset_pb2.Ruleset.FromString(record.ruleset_bytes))

    @grpc_errors
    def ListRulesets(self, request, context):
        if request.page_size < 0:
            raise InvalidArgument("page_size must not be negative", fields=[("page_size", "negative")])
        size = min(request.page_size or _MAX_PAGE, _MAX_PAGE)
        given = request.page_token
        if given and not (given.isascii() and given.isdigit() and len(given) <= 18):  # a version, as we give them
            raise InvalidArgument("page_token is not one this server gave", fields=[("page_token", "invalid")])
        before = int(given) if given else None
        records = self.registry.versions.list(size + 1, before, request.channel)
        token = str(records[size - 1].version) if len(records) > size else ""
        return pb.ListRulesetsResponse(versions=[self._message(r) for r in records[:size]],
                                       next_page_token=token)

    @grpc_errors
    def RollbackRuleset(self, request, context):
        if request.version <= 0:
            raise InvalidArgument("version must be a deployed version number", fields=[("version", "must be > 0")])
        author = author_of(request.author)
        deployment = self.registry.rollback(request.version, author, request.channel)
        _audit("rollback", context, to_version=request.version, version=deployment.version.version,
               digest=deployment.version.digest, author=author)
        return pb.RollbackRulesetResponse(version=self._message(deployment.version))

    @grpc_errors
    def SimulateRuleset(self, request, context):
        if not request.scenario.steps:
            raise InvalidArgument("scenario.steps: give at least one step", reason="MISSING_FIELD",
                                  fields=[("scenario.steps", "is required")])
        if len(request.scenario.steps) > MAX_STEPS:
            raise InvalidArgument(f"scenario.steps: at most {MAX_STEPS} steps in one simulation, got "
                                  f"{len(request.scenario.steps)}", reason="SCENARIO_TOO_LONG",
                                  fields=[("scenario.steps", f"at most {MAX_STEPS}")])
        if request.HasField("source"):
            with simulation_version(source_of(request.source)) as (compiled, callouts):
                return simulate(compiled, request.scenario, clock=self.clock, callouts=callouts)
        active = self.registry.current(request.channel)
        return simulate(active.compiled, request.scenario, clock=self.clock, callouts=active.callouts)

    @grpc_errors
    def ForgetCustomer(self, request, context):
        if self.forget is None:
            raise FailedPrecondition("this server keeps no customer memory", reason="NO_PROFILES")
        response = self.forget(request)
        _audit("forget_customer", context, level=request.audience.level, reason=request.reason,
               profiles_deleted=response.profiles_deleted, history_rows_deleted=response.history_rows_deleted)
        return response
