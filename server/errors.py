"""The one place where failures become gRPC statuses with details a program can read.

Code below the servicers raises `ServiceError` (or lets a `CompileError` through); `grpc_errors` turns either
into the right status code with a `google.rpc.Status` carrying `BadRequest` field violations and an `ErrorInfo`
reason, so clients in any language can tell what was wrong and where.
"""

from __future__ import annotations

import functools
import logging
from typing import Iterable

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from segflow.rules import CompileError
from segflow.server.history import HistoryClosed, HistoryFull

DOMAIN = "segflow.dev"
# Bytes of field violations one error status carries (see to_status): about 4 KB once base64-encoded.
DETAILS_BUDGET = 3_000
log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request that cannot be served: a status code, a message, a reason and the fields at fault."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, reason: str = "", fields: Iterable[tuple[str, str]] = (),
                 metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code.name
        self.fields = list(fields)
        self.metadata = metadata or {}


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


def require(value, field: str, what: str = "is required") -> None:
    """Raise INVALID_ARGUMENT naming `field` when `value` is empty."""
    if not value:
        raise InvalidArgument(f"{field} {what}", reason="MISSING_FIELD", fields=[(field, what)])


def from_compile_error(exc: CompileError, field_prefix: str = "") -> InvalidArgument:
    """A ruleset or expression that does not compile: one field violation per error."""
    fields = [(f"{field_prefix}{e.path}", str(e)) for e in exc.errors]
    first = str(exc.errors[0]).splitlines()[0] if exc.errors else "invalid ruleset"
    more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
    return InvalidArgument(f"{first}{more}", reason="RULESET_INVALID", fields=fields)


def to_status(error: ServiceError) -> grpc.Status:
    """The rich status for an error: code, message, BadRequest violations and ErrorInfo.

    It travels in a trailer, and gRPC fails a call whose metadata passes 8 KB, so it is bounded: texts are cut
    (with a marker) and violations are listed until DETAILS_BUDGET bytes, then one says how many more there are.
    """
    details = []
    if error.fields:
        violations, size = [], 0
        for field, description in error.fields:
            field, description = clip(field, 100), clip(description, 300)
            size += len(field.encode()) + len(description.encode())
            if size > DETAILS_BUDGET:
                break
            violations.append(error_details_pb2.BadRequest.FieldViolation(field=field, description=description))
        if len(violations) < len(error.fields):
            violations.append(error_details_pb2.BadRequest.FieldViolation(
                description=f"and {len(error.fields) - len(violations)} more"))
        details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
    metadata = {clip(k, 100): clip(v, 100) for k, v in list(error.metadata.items())[:10]}
    details.append(_pack(error_details_pb2.ErrorInfo(reason=clip(error.reason, 100), domain=DOMAIN,
                                                     metadata=metadata)))
    status = status_pb2.Status(code=getattr(code_pb2, error.code.name), message=clip(error.message, 500),
                               details=details)
    return rpc_status.to_status(status)


def clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with a marker when it is longer."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def status_code_name(error: Exception) -> str:
    """Name of the status code an exception maps to (for per-command results in a batch)."""
    return as_service_error(error).code.name


def as_service_error(error: Exception) -> ServiceError:
    if isinstance(error, ServiceError):
        return error
    if isinstance(error, CompileError):
        return from_compile_error(error)
    if isinstance(error, HistoryFull):
        return ResourceExhausted("the history queue is full: retry later", reason="HISTORY_FULL")
    if isinstance(error, HistoryClosed):
        return Unavailable("the server is shutting down", reason="SHUTTING_DOWN")
    log.error("unexpected error", exc_info=error)  # a bug: the traceback is what fixes it
    return ServiceError("internal error", reason="INTERNAL")


def grpc_errors(method):
    """Decorate a servicer method so that ServiceError/CompileError abort the call with a rich status."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Exception as exc:
            context.abort_with_status(to_status(as_service_error(exc)))

    return wrapper


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
