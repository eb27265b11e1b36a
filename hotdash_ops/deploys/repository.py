"""The HotDash repository as the deploys use it, pure (runbook: Standard Deployment prerequisite
"Branch merged to main"; Production Deployment step 1, `git tag -a vYYYY.MM.DDa -m ...` and
`git push origin vYYYY.MM.DDa`).

The worker keeps a bare mirror of the repository in its state folder, one per location
(`<state>/repositories/<16 hex of sha256(location)>.git`), fetched before each use:

    git fetch --prune origin +refs/heads/*:refs/remotes/origin/*
    git fetch origin +refs/tags/*:refs/tags/*

Tags are fetched without `--prune`: a release tag made here whose push was refused stays,
so its letter is not used a second time.

A deploy names a `ref`. A branch of that name is looked for first, then a tag, then (for
7-40 hex digits) a commit; the ref resolves to one commit
(`git rev-parse --verify <ref>^{commit}`), which must be on the main branch
(`git merge-base --is-ancestor <commit> origin/<main>`). It is checked out in a worktree of
its own (`git worktree add --detach`), where the tests run and from which flyctl builds, and
the worktree is removed afterwards.

git runs as an argv list (never a shell), without prompts (`GIT_TERMINAL_PROMPT=0`), without
the Fly token in its environment, in its own process group (a timeout stops git and its
helpers: ssh, git-remote-https). One process at a time changes a mirror (`flock` on
`<mirror>.lock`). Its messages are redacted before they reach an error.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from hotdash_ops.deploys.test_commands import child_env
from hotdash_ops.redaction import Redactor, default_redactor
from hotdash_ops.validation import git_ref
from hotdash_ops.validation import release_tag as validate_release_tag

_HEX = re.compile(r"[0-9a-fA-F]{7,40}")
# The tagger of release tags: the automation; the tag's message names the people.
_TAGGER = {"GIT_COMMITTER_NAME": "hotdash-ops", "GIT_COMMITTER_EMAIL": "hotdash-ops@localhost"}
RefKind = Literal["branch", "tag", "commit"]


class GitError(RuntimeError):
    """A git command failed or timed out; the message has git's own words."""


class RefRefused(ValueError):
    """The ref names nothing that may be deployed: unknown, or not on the main branch."""


class Commit(BaseModel):
    """The one commit a deploy tests, builds and ships."""

    sha: str
    ref: str  # what was asked for
    kind: RefKind
    subject: str  # the first line of its message
    main_branch: str

    @property
    def short(self) -> str:
        return self.sha[:12]

    def describe(self) -> str:
        """`3f2c1d9a0b1c (branch main: Fix the login redirect)`."""
        return f"{self.short} ({self.kind} {self.ref}: {self.subject})"


def mirror_path(state_dir: Path, location: str) -> Path:
    """Where the worker keeps its mirror of `location`."""
    key = hashlib.sha256(location.encode()).hexdigest()[:16]
    return state_dir / "repositories" / f"{key}.git"


class Repository:
    """A repository (`location`: URL or path) through the worker's bare mirror of it."""

    def __init__(
        self,
        location: str,
        mirror: Path,
        *,
        main_branch: str = "main",
        timeout: float = 300.0,
        git: str = "git",
        env: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.location = location
        self.mirror = Path(mirror)
        self.main_branch = git_ref(main_branch, "main_branch")
        self.timeout = timeout
        self.git = git
        self._env = dict(os.environ if env is None else env)
        self.redactor = redactor or default_redactor()

    # -- running git --------------------------------------------------------------------

    def _run(self, args: Sequence[str], *, ok_codes: tuple[int, ...] = (0,)) -> tuple[int, str]:
        """(exit code, stdout) of `git ARGS` in the mirror; GitError for other exit codes."""
        env = {**child_env(self._env), "GIT_TERMINAL_PROMPT": "0", **_TAGGER}
        env.pop("CI", None)  # child_env's CI=1 is for the tests, not for git
        try:
            proc = subprocess.Popen(
                [self.git, f"--git-dir={self.mirror}", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            raise GitError(f"git {args[0]}: cannot run {self.git!r}: {exc.strerror}") from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise GitError(f"git {args[0]}: timed out after {self.timeout:g} s") from None
        if proc.returncode not in ok_codes:
            said = " ".join(self.redactor.redact(err.strip() or out.strip()).split())
            raise GitError(f"git {args[0]} exited {proc.returncode}: {said[-800:]}")
        return proc.returncode, out

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.mirror.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.mirror}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _commit_of(self, name: str) -> str | None:
        code, out = self._run(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
                              ok_codes=(0, 1))  # fmt: skip
        return out.strip() if code == 0 and out.strip() else None

    # -- what the deploys do --------------------------------------------------------------

    def fetch(self) -> None:
        """Bring the mirror up to date with the repository (branches and tags)."""
        with self._locked():
            if not (self.mirror / "HEAD").exists():
                self.mirror.mkdir(parents=True, exist_ok=True)
                self._run(["init", "--bare", "--quiet"])
                self._run(["remote", "add", "origin", self.location])
            else:
                self._run(["remote", "set-url", "origin", self.location])
            try:
                self._run(["fetch", "--quiet", "--prune", "origin",
                           "+refs/heads/*:refs/remotes/origin/*"])  # fmt: skip
                self._run(["fetch", "--quiet", "origin", "+refs/tags/*:refs/tags/*"])
            except GitError as exc:
                raise GitError(f"cannot fetch {self.location}: {exc}") from None
            self._run(["worktree", "prune"])  # worktrees of runs that died

    def resolve(self, ref: str) -> Commit:
        """The commit `ref` names (branch, then tag, then commit), which must be on the main
        branch; RefRefused saying why not. Call `fetch` first."""
        git_ref(ref, "ref")
        candidates: list[tuple[RefKind, str]] = [
            ("branch", f"refs/remotes/origin/{ref}"),
            ("tag", f"refs/tags/{ref}"),
        ]
        if _HEX.fullmatch(ref):
            candidates.append(("commit", ref.lower()))
        found = next(
            ((kind, sha) for kind, name in candidates if (sha := self._commit_of(name))), None
        )
        if found is None:
            raise RefRefused(
                f"ref: {ref!r} is not a branch, tag or commit of {self.location} (fetched just now)"
            )
        kind, sha = found
        main = f"refs/remotes/origin/{self.main_branch}"
        if self._commit_of(main) is None:
            raise RefRefused(
                f"main_branch: {self.location} has no branch {self.main_branch!r} "
                "(deploy.main_branch)"
            )
        code, _ = self._run(["merge-base", "--is-ancestor", sha, main], ok_codes=(0, 1))
        if code != 0:
            raise RefRefused(
                f"ref: {ref} ({sha[:12]}) is not on {self.main_branch}: merge it first "
                "(runbook prerequisite: branch merged to main)"
            )
        _, subject = self._run(["log", "-1", "--format=%s", sha])
        return Commit(
            sha=sha,
            ref=ref,
            kind=kind,
            subject=self.redactor.redact(subject.strip())[:200],
            main_branch=self.main_branch,
        )

    @contextmanager
    def worktree(self, sha: str, parent: Path) -> Iterator[Path]:
        """A checkout of exactly `sha` under `parent`, removed when the block ends."""
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            raise ValueError(f"sha: {sha!r} is not a full commit id")
        parent.mkdir(parents=True, exist_ok=True)
        holder = Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=parent))
        path = holder / "checkout"
        with self._locked():
            self._run(["worktree", "add", "--detach", "--quiet", str(path), sha])
        try:
            yield path
        finally:
            try:
                with self._locked():
                    self._run(["worktree", "remove", "--force", str(path)])
            except GitError:
                pass  # removed below; `worktree prune` at the next fetch forgets it
            shutil.rmtree(holder, ignore_errors=True)

    def release_tags(self) -> list[str]:
        """Tags that look like release tags (`v*`): the repository's, and any made here."""
        _, out = self._run(["tag", "--list", "v*"])
        return out.split()

    def create_tag(self, tag: str, sha: str, message: str) -> None:
        """`git tag -a TAG -m MESSAGE SHA` in the mirror (tagger: hotdash-ops)."""
        validate_release_tag(tag)
        with self._locked():
            self._run(["tag", "-a", tag, "-m", message, sha])

    def push_tag(self, tag: str) -> None:
        """`git push origin refs/tags/TAG`; GitError with git's words when refused."""
        validate_release_tag(tag)
        try:
            self._run(["push", "--quiet", "origin", f"refs/tags/{tag}"])
        except GitError as exc:
            raise GitError(f"cannot push {tag} to {self.location}: {exc}") from None
