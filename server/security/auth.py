"""The auth interceptor: every call proves who it is (a bearer token or a client certificate named in the
auth file) and holds the role its method needs, or is refused before the servicer runs.

Roles: `decide` for DecisionService calls, `subscribe` for SubscribeActions, `admin` for RulesetService
(deploys, rollbacks, ForgetCustomer) and any service not listed. Health and reflection stay open: load
balancers probe health without credentials, and reflection is served only when `--reflection` is on.
Missing or bad credentials are UNAUTHENTICATED, a missing role PERMISSION_DENIED, both with an ErrorInfo.
"""

from __future__ import annotations

from segflow.server import calls
from segflow.server.errors import PermissionDenied, ServiceError, Unauthenticated, to_status
from segflow.server.interceptors import BehaviorInterceptor, split_path
from segflow.server.security.identities import AuthFile, Identity

OPEN_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                           "grpc.reflection.v1.ServerReflection"})
DECISIONS = "segflow.v1.DecisionService"


def role_for(service: str, method: str) -> str | None:
    """The role a method needs; None for the open services."""
    if service in OPEN_SERVICES:
        return None
    if service == DECISIONS:
        return "subscribe" if method == "SubscribeActions" else "decide"
    return "admin"


def bearer_token(metadata) -> str | None:
    """The token of an `authorization: Bearer <token>` header; None without the header. Raises
    Unauthenticated for an authorization header of another form."""
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the authorization header must be `Bearer <token>`",
                                      reason="MALFORMED_AUTHORIZATION")
            return token.strip()
    return None


def certificate_names(auth_context: dict) -> list[str]:
    """A verified client certificate's common name, then its subject alternative names."""
    names = auth_context.get("x509_common_name", []) + auth_context.get("x509_subject_alternative_name", [])
    return [name.decode() if isinstance(name, bytes) else name for name in names]


class AuthInterceptor(BehaviorInterceptor):
    def __init__(self, auth_file: AuthFile):
        super().__init__()
        self.auth_file = auth_file

    def authenticate(self, context) -> Identity:
        """The caller's identity; raises Unauthenticated."""
        identities = self.auth_file.current()
        token = bearer_token(context.invocation_metadata())
        if token is not None:
            identity = identities.by_token(token)
            if identity is None:
                raise Unauthenticated("the bearer token is not one this server knows", reason="INVALID_TOKEN")
            return identity
        names = certificate_names(context.auth_context())
        if names:
            identity = identities.by_certificate(names)
            if identity is None:
                raise Unauthenticated(f"the client certificate {names[0]!r} is not in the auth file",
                                      reason="UNKNOWN_CLIENT_CERTIFICATE", metadata={"certificate": names[0]})
            return identity
        raise Unauthenticated("credentials required: an `authorization: Bearer <token>` header or a client "
                              "certificate", reason="MISSING_CREDENTIALS")

    def wrap(self, behavior, path, kind):
        service, method = split_path(path)
        role = role_for(service, method)
        if role is None:
            return behavior

        def guarded(request, context):
            try:
                identity = self.authenticate(context)
                if role not in identity.roles:
                    raise PermissionDenied(
                        f"{identity.name!r} lacks the role {role!r} that {method} needs", reason="MISSING_ROLE",
                        metadata={"role": role, "identity": identity.name, "method": f"{service}/{method}"})
            except ServiceError as exc:
                context.abort_with_status(to_status(exc))
            call = calls.current()
            if call is not None:
                call.identity = identity.name
                return behavior(request, context)
            token = calls.begin(calls.Call(identity=identity.name))  # no outer interceptor started a Call
            try:
                return behavior(request, context)
            finally:
                calls.end(token)

        return guarded
