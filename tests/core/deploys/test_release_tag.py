"""Release tags (hotdash_ops.deploys.release_tag) and tagging a real git repository
(hotdash_ops.deploys.git_tags, git as a real subprocess)."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from hotdash_ops.deploys.git_tags import GitError, GitRepo, repository_from_deploy_config
from hotdash_ops.deploys.release_tag import check_release_tag, next_release_tag

DAY = date(2025, 10, 14)


def test_next_free_letter_of_the_day() -> None:
    assert next_release_tag([], DAY) == "v2025.10.14a"
    assert next_release_tag(["v2025.10.14a", "v2025.10.14b"], DAY) == "v2025.10.14c"
    assert next_release_tag(["v2025.10.14b"], DAY) == "v2025.10.14a"  # first free, not last+1
    assert next_release_tag(["v2025.10.13a", "v1.2.3", "latest"], DAY) == "v2025.10.14a"
    full = [f"v2025.10.14{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    with pytest.raises(ValueError, match=r"release_tag: every tag of 2025-10-14 is taken"):
        next_release_tag(full, DAY)


def test_a_given_tag_is_validated_and_must_be_free() -> None:
    assert check_release_tag("v2025.10.14c", ["v2025.10.14a"]) == "v2025.10.14c"
    with pytest.raises(ValueError, match="release_tag: v2025.10.14a already exists"):
        check_release_tag("v2025.10.14a", ["v2025.10.14a"])
    with pytest.raises(ValueError, match=r"release_tag: 'v2025.02.30a' has an invalid date"):
        check_release_tag("v2025.02.30a", [])
    with pytest.raises(ValueError, match=r"release_tag: 'v2025.10.14' is not a release tag"):
        check_release_tag("v2025.10.14", [])
    with pytest.raises(ValueError, match="release_tag: must not start with '-'"):
        check_release_tag("--delete", [])


def git(*args: str, cwd: Path) -> str:
    full = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(cwd), *args]
    return subprocess.run(full, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, Path]:
    origin = tmp_path / "origin.git"
    work = tmp_path / "HotDash"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    git("commit", "-q", "--allow-empty", "-m", "release me", cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    return origin, work


def test_tag_and_push_a_release(checkout: tuple[Path, Path]) -> None:
    origin, work = checkout
    repo = GitRepo(work)
    assert repo.local_tags() == [] and repo.remote_tags("origin") == []
    commit = repo.create_tag("v2025.10.14a", "Production release v2025.10.14a: ship it")
    repo.push_tag("origin", "v2025.10.14a")
    assert commit == git("rev-parse", "HEAD", cwd=work).strip()
    assert repo.local_tags() == ["v2025.10.14a"]
    assert repo.remote_tags("origin") == ["v2025.10.14a"]
    shown = git("tag", "-n1", "--list", "v2025.10.14a", cwd=origin)
    assert "Production release v2025.10.14a: ship it" in shown
    assert git("cat-file", "-t", "v2025.10.14a", cwd=origin).strip() == "tag"  # annotated
    with pytest.raises(GitError, match="already exists"):
        repo.create_tag("v2025.10.14a", "again")


def test_bad_values_never_reach_git(checkout: tuple[Path, Path]) -> None:
    repo = GitRepo(checkout[1])
    with pytest.raises(ValueError, match="remote: must not start with '-'"):
        repo.push_tag("--upload-pack=touch /tmp/x", "v2025.10.14a")
    with pytest.raises(ValueError, match="release_tag: 'latest' is not a release tag"):
        repo.create_tag("latest", "x")
    with pytest.raises(GitError, match="git push .* failed"):
        repo.push_tag("nowhere", "v2025.10.14b")


def test_repository_setting(tmp_path: Path) -> None:
    assert repository_from_deploy_config({}, base=tmp_path) is None
    cfg = repository_from_deploy_config({"repository": "../HotDash"}, base=tmp_path / "deploy")
    assert cfg is not None and cfg.path == (tmp_path / "HotDash").resolve()
    assert (cfg.remote, cfg.ref) == ("origin", "HEAD")
    with pytest.raises(ValueError, match="deploy.repository.remote: must not start with '-'"):
        repository_from_deploy_config({"repository": {"path": "x", "remote": "-x"}}, base=tmp_path)
    with pytest.raises(ValueError, match=r"deploy\.repository\.branch: Extra inputs"):
        repository_from_deploy_config(
            {"repository": {"path": "x", "branch": "main"}}, base=tmp_path
        )
