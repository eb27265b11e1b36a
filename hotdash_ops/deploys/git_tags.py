"""Release tags in the app's git repository (runbook, Production Deployment step 1:
`git tag -a vYYYY.MM.DDa -m "Production release YYYY-MM-DD"; git push origin vYYYY.MM.DDa`).

Configured in the inventory; without it, tags live only in the audit log:

```yaml
deploy:
  repository:
    path: ../HotDash      # a checkout (relative to the inventory file)
    remote: origin        # where tags are pushed
    ref: HEAD             # what is tagged (the checkout is on the released commit)
```

`git` runs as an argv list, never a shell, without prompts; every value is validated first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from hotdash_ops.validation import field_problems, no_option
from hotdash_ops.validation import release_tag as validate_release_tag


class RepositoryConfig(BaseModel):
    """Where release tags go."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    remote: str = "origin"
    ref: str = "HEAD"


class GitError(RuntimeError):
    """A git command failed; the message has git's own words."""


def repository_from_deploy_config(
    deploy: Mapping[str, Any], *, base: Path
) -> RepositoryConfig | None:
    """The inventory's `deploy.repository` (a path is relative to `base`), or None."""
    raw = deploy.get("repository")
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"path": raw}
    try:
        cfg = RepositoryConfig.model_validate(raw)
    except ValidationError as exc:
        problems = field_problems(exc, "deploy.repository")
        raise ValueError(problems) from None
    no_option(cfg.remote, "deploy.repository.remote")
    no_option(cfg.ref, "deploy.repository.ref")
    if not cfg.path.is_absolute():
        cfg = cfg.model_copy(update={"path": (base / cfg.path).resolve()})
    return cfg


class GitRepo:
    """A checkout that release tags are created in and pushed from."""

    def __init__(self, path: Path, *, git: str = "git", timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.git = git
        self.timeout = timeout

    def _run(self, args: Sequence[str]) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail, never wait for a password
        try:
            done = subprocess.run(
                [self.git, "-C", str(self.path), *args],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(f"git {args[0]}: {exc}") from None
        if done.returncode != 0:
            shown = " ".join(a for a in args if not a.startswith("user."))
            raise GitError(f"git {shown} failed: {done.stderr.strip()}")
        return done.stdout

    def local_tags(self) -> list[str]:
        """Tags in the checkout that look like release tags (`v*`)."""
        return self._run(["tag", "--list", "v*"]).split()

    def remote_tags(self, remote: str) -> list[str]:
        """Release tags on the remote (`git ls-remote --tags --refs REMOTE v*`)."""
        no_option(remote, "remote")
        out = self._run(["ls-remote", "--tags", "--refs", remote, "refs/tags/v*"])
        return [line.split("refs/tags/", 1)[1] for line in out.splitlines() if "refs/tags/" in line]

    def create_tag(self, tag: str, message: str, *, ref: str = "HEAD") -> str:
        """`git tag -a TAG -m MESSAGE REF`; returns the tagged commit."""
        validate_release_tag(tag)
        no_option(ref, "ref")
        # A service account may have no git identity; an annotated tag needs a tagger.
        identity = (
            []
            if self._has_identity()
            else ["-c", "user.name=hotdash-ops", "-c", "user.email=hotdash-ops@localhost"]
        )
        self._run([*identity, "tag", "-a", tag, "-m", message, ref])
        return self._run(["rev-list", "-n", "1", tag]).strip()

    def push_tag(self, remote: str, tag: str) -> None:
        """`git push REMOTE refs/tags/TAG`."""
        no_option(remote, "remote")
        validate_release_tag(tag)
        self._run(["push", remote, f"refs/tags/{tag}"])

    def _has_identity(self) -> bool:
        try:
            return bool(self._run(["config", "user.email"]).strip())
        except GitError:
            return False
