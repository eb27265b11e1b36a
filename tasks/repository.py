"""The HotDash repository for the deploys (runbook: Standard Deployment prerequisite "Branch
merged to main"; the tests run, and the image is built, at exactly the commit that ships).

The repository is the inventory's `deploy.repository` (or `$HOTDASH_REPOSITORY`); the worker
mirrors it under the state folder and checks commits out in worktrees under
`<state>/worktrees` (hotdash_ops.deploys.repository).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.repository import Commit, Repository, mirror_path
from tasks import fly_access


def repository() -> Repository | None:
    """The configured repository through this worker's mirror; None when none is configured."""
    cfg = fly_access.settings()
    settings = parse_deploy_settings(fly_access.inventory(cfg).deploy)
    location = settings.repository_location(os.environ, base=cfg.hotdash_inventory.parent)
    if location is None:
        return None
    return Repository(
        location,
        mirror_path(cfg.hotdash_state_dir, location),
        main_branch=settings.main_branch,
        timeout=settings.fetch_timeout_seconds,
    )


def required_repository() -> Repository:
    """The configured repository; ValueError naming the setting when there is none."""
    repo = repository()
    if repo is None:
        raise ValueError(
            "deploy.repository: not set (nor $HOTDASH_REPOSITORY); deploy-staging builds "
            "commits of the HotDash repository"
        )
    return repo


@task(name="fetch-commit", cache_policy=NO_CACHE)
def fetch_commit(ref: str) -> Commit:
    """Runbook prerequisite "Branch merged to main": `git fetch` the repository, resolve `ref`
    (branch, tag or commit) to one commit and check it is on the main branch
    (`git merge-base --is-ancestor`). Raises RefRefused or GitError saying why not."""
    repo = required_repository()
    repo.fetch()
    commit = repo.resolve(ref)
    get_run_logger().info("%s: %s", repo.location, commit.describe())
    return commit


@contextmanager
def checked_out(commit: Commit) -> Iterator[Path]:
    """A worktree at exactly `commit` (tests run and the image is built there), removed at
    the end of the block."""
    repo = required_repository()
    with repo.worktree(commit.sha, fly_access.settings().hotdash_state_dir / "worktrees") as path:
        yield path
