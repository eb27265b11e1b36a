"""The inventory's `deploy:` section as the staging deploy reads it, pure.

```yaml
deploy:
  checkout: ../HotDash             # where the tests run (relative to the inventory file)
  checkout_env: HOTDASH_CHECKOUT   # an env variable that overrides `checkout`
  test_commands:                   # argv lists, run in order; the first failure stops the deploy
    - [npm, run, "test:unit"]
    - [npm, run, "test:e2e"]
  test_timeout_seconds: 1800       # per command
  required_secrets: [DATABASE_URL] # must exist on staging and production (parity: blocking)
  source_roots: [../HotDash]       # where `source_dir` builds may come from (default: checkout)
```

`source_dir` is a path on the worker: without roots a person could build and ship any
directory the worker can read, so a build from outside them is refused (symlinks resolved).
`$HOTDASH_SOURCE_ROOTS` (paths separated by `:`) overrides the list.

Other keys of `deploy:` (the production deploy window, the git repository) belong to the
modules that use them and are ignored here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotdash_ops.inventory import InventoryError
from hotdash_ops.validation import field_problems


class DeploySettings(BaseModel):
    """Tests and required secrets of the one-command deploy."""

    model_config = ConfigDict(extra="ignore")

    checkout: Path | None = None
    checkout_env: str | None = "HOTDASH_CHECKOUT"
    test_commands: list[list[str]] = Field(default_factory=list)
    test_timeout_seconds: float = Field(default=1800.0, gt=0)
    required_secrets: list[str] = Field(default_factory=lambda: ["DATABASE_URL"])
    source_roots: list[Path] = Field(default_factory=list)
    source_roots_env: str = "HOTDASH_SOURCE_ROOTS"

    @field_validator("test_commands")
    @classmethod
    def _argv_lists(cls, value: list[list[str]]) -> list[list[str]]:
        for i, argv in enumerate(value):
            if not argv or not argv[0].strip():
                raise ValueError(f"test_commands[{i}]: must be a non-empty argv list")
            if argv[0].startswith("-"):
                raise ValueError(f"test_commands[{i}]: the program must not start with '-'")
        return value

    def checkout_dir(self, env: Mapping[str, str], *, base: Path) -> Path | None:
        """The checkout: the env override, else `checkout` relative to `base`; None if unset."""
        raw = env.get(self.checkout_env) if self.checkout_env else None
        if raw:
            return Path(raw)
        if self.checkout is None:
            return None
        return self.checkout if self.checkout.is_absolute() else base / self.checkout

    def allowed_source_roots(self, env: Mapping[str, str], *, base: Path) -> list[Path]:
        """Where source builds may come from: the env override, else `source_roots`
        (relative to `base`), else the checkout; resolved."""
        raw = env.get(self.source_roots_env, "")
        if raw.strip():
            roots = [Path(p) for p in raw.split(os.pathsep) if p.strip()]
        else:
            roots = [r if r.is_absolute() else base / r for r in self.source_roots]
            checkout = self.checkout_dir(env, base=base)
            if not roots and checkout is not None:
                roots = [checkout]
        return [r.resolve() for r in roots]

    def source_directory(self, source_dir: str, env: Mapping[str, str], *, base: Path) -> Path:
        """`source_dir` resolved, when it is a directory inside an allowed root; ValueError
        naming the field and the rule otherwise."""
        directory = Path(source_dir)
        if not directory.is_dir():
            raise ValueError(f"source_dir: {source_dir} is not a directory")
        roots = self.allowed_source_roots(env, base=base)
        if not roots:
            raise ValueError(
                "source_dir: no source roots are configured (deploy.source_roots, "
                f"${self.source_roots_env} or deploy.checkout); builds from source are off"
            )
        resolved = directory.resolve()
        if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
            listed = ", ".join(str(r) for r in roots)
            raise ValueError(
                f"source_dir: {resolved} is outside the allowed source roots ({listed}); "
                f"see deploy.source_roots or ${self.source_roots_env}"
            )
        return resolved


def parse_deploy_settings(deploy: Mapping[str, Any]) -> DeploySettings:
    """Validate the `deploy:` mapping; InventoryError naming the field otherwise."""
    try:
        return DeploySettings.model_validate(dict(deploy))
    except ValidationError as exc:
        problems = field_problems(exc, "deploy")
        raise InventoryError(problems) from None
