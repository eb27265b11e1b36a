"""Keep secrets out of logs, exceptions, artifacts and the audit log."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

REDACTED = "***REDACTED***"

# Env vars that are secrets by name, whatever their length.
_NAMED_SECRETS = ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN", "PREFECT_API_AUTH_STRING")
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_KEY")
# Short values of suffix-named vars ("1", "true") would redact ordinary words everywhere.
_MIN_SUFFIX_SECRET_LEN = 8


class Redactor:
    """Replaces every known secret (and its Authorization-header forms) with `***REDACTED***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a secret; its `Bearer`/`FlyV1` forms and comma-joined parts count too."""
        if not secret or not secret.strip():
            return
        secret = secret.strip()
        forms = {secret}
        bare = secret
        for scheme in ("FlyV1 ", "Bearer "):
            if secret.startswith(scheme):
                bare = secret[len(scheme) :]
        forms.add(bare)
        forms.update(f"{scheme}{bare}" for scheme in ("FlyV1 ", "Bearer "))
        # A multi-token string leaks part by part too.
        forms.update(p.strip() for p in bare.split(",") if len(p.strip()) >= 4)
        self._secrets.update(f for f in forms if f)

    @property
    def secrets(self) -> frozenset[str]:
        """The registered forms (for tests and for building child redactors)."""
        return frozenset(self._secrets)

    def redact(self, text: str) -> str:
        """Return `text` with every secret replaced; longest first so no fragment survives."""
        if not text:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_obj(self, value: object) -> object:
        """Redact strings inside nested dicts/lists/tuples (used for audit details)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {str(k): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_obj(v) for v in value]
        return value


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    """The values in `env` that are secrets by our naming rule."""
    found = []
    for name, value in env.items():
        upper = name.upper()
        if upper in _NAMED_SECRETS and value:
            found.append(value)
        elif upper.endswith(SECRET_SUFFIXES) and len(value) >= _MIN_SUFFIX_SECRET_LEN:
            found.append(value)
    return found


def default_redactor() -> Redactor:
    """A redactor for the secrets in this process's environment (read at call time)."""
    return Redactor(secrets_from_env(os.environ))
