"""The inventory's `deploy:` section as the staging deploy reads it, pure.

```yaml
deploy:
  repository: https://github.com/Jgorzitza/HotDash.git  # or a path (relative to this file)
  repository_env: HOTDASH_REPOSITORY  # an env variable that overrides `repository`
  main_branch: main                   # the runbook's "merged to main"
  fetch_timeout_seconds: 300          # one git fetch or push
  test_commands:                      # argv lists, run in order; the first failure stops it
    - [npm, run, "test:unit"]
    - [npm, run, "test:e2e"]
  test_timeout_seconds: 1800          # per command
  required_secrets: [DATABASE_URL]    # must exist on staging (parity: blocking)
  settle_timeout_seconds: 300         # after a deploy or rollback, how long the smoke test
                                      # waits for the machines to be started, checks passing
```

`deploy-staging` builds and tests one commit of `repository` (hotdash_ops.deploys.repository):
the tests run in a worktree at exactly that commit and the image is built from it.

Other keys of `deploy:` (the deploy windows, the post-deploy watch) belong to the modules
that use them and are ignored here. Keys of earlier versions are refused with what replaced
them, so an old inventory fails loudly instead of deploying differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotdash_ops.inventory import InventoryError
from hotdash_ops.validation import field_problems, git_ref, git_repository

# Keys of earlier versions and what replaced them.
_REPLACED = {
    "checkout": "deploy-staging tests and builds a commit of deploy.repository (parameter ref)",
    "checkout_env": "deploy.repository_env",
    "source_roots": "deploy-staging builds only commits of deploy.repository",
    "source_roots_env": "deploy-staging builds only commits of deploy.repository",
}


class DeploySettings(BaseModel):
    """The repository, tests and required secrets of the one-command deploy."""

    model_config = ConfigDict(extra="ignore")

    repository: str | None = None
    repository_env: str | None = "HOTDASH_REPOSITORY"
    main_branch: str = "main"
    fetch_timeout_seconds: float = Field(default=300.0, gt=0)
    test_commands: list[list[str]] = Field(default_factory=list)
    test_timeout_seconds: float = Field(default=1800.0, gt=0)
    required_secrets: list[str] = Field(default_factory=lambda: ["DATABASE_URL"])
    # flyctl's own --wait-timeout for one machine (internal/command/deploy/machines.go)
    settle_timeout_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, instead in _REPLACED.items():
                if key in data:
                    raise ValueError(f"{key}: no longer used; {instead}")
        return data

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        return None if value is None else git_repository(value, "repository")

    @field_validator("main_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return git_ref(value, "main_branch")

    @field_validator("test_commands")
    @classmethod
    def _argv_lists(cls, value: list[list[str]]) -> list[list[str]]:
        for i, argv in enumerate(value):
            if not argv or not argv[0].strip():
                raise ValueError(f"test_commands[{i}]: must be a non-empty argv list")
            if argv[0].startswith("-"):
                raise ValueError(f"test_commands[{i}]: the program must not start with '-'")
        return value

    def repository_location(self, env: Mapping[str, str], *, base: Path) -> str | None:
        """Where the repository is: the env override, else `repository`; a relative path is
        relative to `base` (the inventory's folder). None when neither is set."""
        raw = env.get(self.repository_env, "").strip() if self.repository_env else ""
        if raw:
            where = f"${self.repository_env}"
            location = git_repository(raw, where)
        elif self.repository:
            location = self.repository
        else:
            return None
        if "://" in location or _scp_like(location):
            return location
        path = Path(location)
        return str(path if path.is_absolute() else (base / path).resolve())


def _scp_like(location: str) -> bool:
    """`git@github.com:owner/repo.git`: git reads a colon before the first slash as ssh."""
    head = location.split("/", 1)[0]
    return ":" in head


def parse_deploy_settings(deploy: Mapping[str, Any]) -> DeploySettings:
    """Validate the `deploy:` mapping; InventoryError naming the field otherwise."""
    try:
        return DeploySettings.model_validate(dict(deploy))
    except ValidationError as exc:
        problems = field_problems(exc, "deploy")
        raise InventoryError(problems) from None
