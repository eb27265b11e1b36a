"""The Authorization header flyctl would send for a token (fly-go `tokens/tokens.go`; docs/fly.md,
"Authentication")."""

from __future__ import annotations

_SCHEMES = ("FlyV1 ", "Bearer ")
_MACAROON_PREFIXES = ("fm1r", "fm1a", "fm2")


def _strip_scheme(token: str) -> str:
    for scheme in _SCHEMES:
        if token.startswith(scheme):
            return token[len(scheme) :]
    return token


def authorization_header(token: str) -> str:
    """Return the `Authorization` value for `token`, following fly-go `tokens.normalized()`.

    A token that already carries `FlyV1 ` or `Bearer ` is sent as-is. Otherwise the token may be
    several comma-joined tokens: if any is a macaroon (`fm1r_`, `fm1a_`, `fm2_`) the scheme is
    `FlyV1`, else `Bearer`.
    """
    token = token.strip()
    if not token:
        raise ValueError("token: empty")
    if token.startswith(_SCHEMES):
        return token
    parts = [_strip_scheme(p.strip()) for p in token.split(",") if p.strip()]
    macaroon = any(p.split("_", 1)[0] in _MACAROON_PREFIXES and "_" in p for p in parts)
    return ("FlyV1 " if macaroon else "Bearer ") + ",".join(parts)
