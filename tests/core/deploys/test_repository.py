"""The HotDash repository as the deploys use it (hotdash_ops.deploys.repository): git as a real
subprocess on repositories in a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotdash_ops.deploys.repository import GitError, RefRefused, Repository, mirror_path
from tests.git_origin import Origin, git


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    repo = Origin(tmp_path)
    repo.commit({"package.json": "{}\n", "VERSION": "1\n"}, "First release")
    return repo


def mirror_of(origin: Origin, tmp_path: Path, **kw: object) -> Repository:
    location = str(origin.path)
    return Repository(location, mirror_path(tmp_path / "state", location), **kw)  # type: ignore[arg-type]


def test_a_branch_a_tag_and_a_commit_resolve_to_commits_on_main(
    origin: Origin, tmp_path: Path
) -> None:
    fix = origin.commit({"VERSION": "2\n"}, "Fix the login redirect")
    origin.tag("v2025.10.14a")
    repo = mirror_of(origin, tmp_path)
    repo.fetch()

    main = repo.resolve("main")
    assert (main.sha, main.kind, main.subject) == (fix, "branch", "Fix the login redirect")
    assert main.describe() == f"{fix[:12]} (branch main: Fix the login redirect)"
    assert repo.resolve("v2025.10.14a").sha == fix  # an annotated or light tag: its commit
    assert repo.resolve("v2025.10.14a").kind == "tag"
    first = git("rev-parse", "main~1", cwd=origin.path)
    assert repo.resolve(first[:9]).sha == first  # an older commit of main, abbreviated
    assert repo.resolve(first[:9]).kind == "commit"
    assert repo.mirror.parent == tmp_path / "state" / "repositories"


def test_a_ref_that_does_not_exist_or_is_not_on_main_is_refused(
    origin: Origin, tmp_path: Path
) -> None:
    unmerged = origin.commit({"VERSION": "3\n"}, "Work in progress", branch="hotfix/login")
    repo = mirror_of(origin, tmp_path)
    repo.fetch()

    with pytest.raises(
        RefRefused,
        match=r"ref: 'nope' is not a branch, tag or commit of .*origin\.git \(fetched just now\)",
    ):
        repo.resolve("nope")
    with pytest.raises(RefRefused, match=r"ref: 'deadbeef' is not a branch, tag or commit"):
        repo.resolve("deadbeef")
    message = (
        rf"ref: hotfix/login \({unmerged[:12]}\) is not on main: merge it first "
        r"\(runbook prerequisite: branch merged to main\)"
    )
    with pytest.raises(RefRefused, match=message):
        repo.resolve("hotfix/login")
    with pytest.raises(RefRefused, match=r"ref: .* is not on main"):
        repo.resolve(unmerged)
    with pytest.raises(ValueError, match="ref: must not start with '-'"):
        repo.resolve("--upload-pack=touch /tmp/x")
    other = mirror_of(origin, tmp_path / "b", main_branch="trunk")
    other.fetch()
    with pytest.raises(RefRefused, match=r"main_branch: .* has no branch 'trunk'"):
        other.resolve("main")


def test_a_branch_deleted_upstream_is_gone_after_the_next_fetch(
    origin: Origin, tmp_path: Path
) -> None:
    origin.commit({}, "merged later", branch="feature/x")
    repo = mirror_of(origin, tmp_path)
    repo.fetch()
    with pytest.raises(RefRefused, match="ref: feature/x .* is not on main"):
        repo.resolve("feature/x")  # it exists
    git("push", "--quiet", "origin", "--delete", "feature/x", cwd=origin.work)
    repo.fetch()
    with pytest.raises(RefRefused, match="is not a branch, tag or commit"):
        repo.resolve("feature/x")


def test_a_repository_that_cannot_be_fetched_says_why(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-repo.git")
    repo = Repository(missing, mirror_path(tmp_path / "state", missing))
    with pytest.raises(GitError, match=rf"cannot fetch {missing}: git fetch exited 128: .*"):
        repo.fetch()
    # An unreachable host fails quickly and never prompts for a password.
    url = "http://127.0.0.1:9/HotDash.git"
    with pytest.raises(GitError, match=r"cannot fetch http://127.0.0.1:9/HotDash.git: .*"):
        Repository(url, mirror_path(tmp_path / "state", url), timeout=20).fetch()


def test_a_worktree_holds_exactly_the_commit_and_is_removed_afterwards(
    origin: Origin, tmp_path: Path
) -> None:
    old = git("rev-parse", "main", cwd=origin.path)
    origin.commit({"VERSION": "2\n"}, "Newer")
    repo = mirror_of(origin, tmp_path)
    repo.fetch()
    with repo.worktree(old, tmp_path / "worktrees") as path:
        assert (path / "VERSION").read_text() == "1\n"
        assert git("rev-parse", "HEAD", cwd=path) == old
        (path / "node_modules").mkdir()  # what tests leave behind goes too
    assert not path.exists() and list((tmp_path / "worktrees").iterdir()) == []
    assert git("worktree", "list", cwd=repo.mirror).count("\n") == 0  # the mirror only
    with pytest.raises(ValueError, match="sha: 'main' is not a full commit id"):
        with repo.worktree("main", tmp_path / "worktrees"):
            pass


def test_release_tags_are_made_on_the_commit_and_pushed(origin: Origin, tmp_path: Path) -> None:
    released = git("rev-parse", "main", cwd=origin.path)
    origin.commit({"VERSION": "2\n"}, "After the release")
    origin.tag("v2025.10.13a")
    repo = mirror_of(origin, tmp_path)
    repo.fetch()
    assert repo.release_tags() == ["v2025.10.13a"]

    repo.create_tag("v2025.10.14a", released, "Production release v2025.10.14a: ship it")
    repo.push_tag("v2025.10.14a")
    assert origin.tags()["v2025.10.14a"] == released  # the released commit, not main's tip
    assert "Production release v2025.10.14a: ship it" in origin.tag_message("v2025.10.14a")
    assert git("cat-file", "-t", "v2025.10.14a", cwd=origin.path) == "tag"  # annotated
    tagger = git("for-each-ref", "--format=%(taggername)", "refs/tags/v2025.10.14a",
                 cwd=origin.path)  # fmt: skip
    assert tagger == "hotdash-ops"
    with pytest.raises(GitError, match="already exists"):
        repo.create_tag("v2025.10.14a", released, "again")
    with pytest.raises(ValueError, match="release_tag: 'latest' is not a release tag"):
        repo.create_tag("latest", released, "x")


def test_a_push_the_repository_refuses_is_an_error_and_the_tag_stays_in_the_mirror(
    origin: Origin, tmp_path: Path
) -> None:
    origin.refuse_pushes()
    repo = mirror_of(origin, tmp_path)
    repo.fetch()
    sha = git("rev-parse", "main", cwd=origin.path)
    repo.create_tag("v2025.10.14a", sha, "Production release")
    with pytest.raises(GitError, match=r"cannot push v2025.10.14a to .*: .*pushes are refused"):
        repo.push_tag("v2025.10.14a")
    assert "v2025.10.14a" not in origin.tags()
    repo.fetch()  # tags are fetched without pruning: the letter stays used
    assert repo.release_tags() == ["v2025.10.14a"]


def test_git_runs_without_the_fly_token_and_without_prompts(
    origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake git records its environment, then runs the real one.
    log = tmp_path / "env.txt"
    fake = tmp_path / "git"
    fake.write_text(f'#!/bin/sh\nenv > "{log}"\nexec git "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("FLY_API_TOKEN", "fm2_secret-token-value")
    repo = mirror_of(origin, tmp_path, git=str(fake), env=dict(os.environ))
    repo.fetch()
    seen = log.read_text()
    assert "fm2_secret-token-value" not in seen and "GIT_TERMINAL_PROMPT=0" in seen
