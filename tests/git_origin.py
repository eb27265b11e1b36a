"""A HotDash repository for tests: a bare `origin` in a temp folder, changed through a work
clone next to it with real git (no network, a few milliseconds per commit)."""

from __future__ import annotations

import subprocess
from pathlib import Path

IDENTITY = ["-c", "user.name=Dev", "-c", "user.email=dev@hotdash.test"]


def git(*args: str, cwd: Path | None = None) -> str:
    where = ["-C", str(cwd)] if cwd else []
    done = subprocess.run(
        ["git", *IDENTITY, *where, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class Origin:
    """`path` is the bare repository deploys fetch from; `commit` adds work to a branch."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "origin.git"
        self.work = folder / "origin-work"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.path))
        git("clone", "--quiet", str(self.path), str(self.work))
        git("switch", "--quiet", "--orphan", "main", cwd=self.work)

    def commit(self, files: dict[str, str], message: str, *, branch: str = "main") -> str:
        """Write `files` on `branch` (made from main when new), commit, push; the commit id."""
        if git("branch", "--list", branch, cwd=self.work):
            git("switch", "--quiet", branch, cwd=self.work)
        elif git("branch", "--list", "main", cwd=self.work):
            git("switch", "--quiet", "-c", branch, "main", cwd=self.work)
        # else: the first commit, on the orphan main
        for name, text in files.items():
            target = self.work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=self.work)
        sha = git("rev-parse", "HEAD", cwd=self.work)
        git("switch", "--quiet", "main", cwd=self.work)
        return sha

    def tag(self, name: str, ref: str = "main") -> None:
        git("tag", name, ref, cwd=self.work)
        git("push", "--quiet", "origin", f"refs/tags/{name}", cwd=self.work)

    def tags(self) -> dict[str, str]:
        """Tag name -> the commit it points at, as the origin has them (an annotated tag
        prints its commit, then its own id: the first 40 characters are the commit)."""
        out = git("for-each-ref", "--format=%(refname:short) %(*objectname)%(objectname)",
                  "refs/tags", cwd=self.path)  # fmt: skip
        pairs = (line.split() for line in out.splitlines())
        return {name: oid[:40] for name, oid in pairs}

    def tag_message(self, name: str) -> str:
        return git("tag", "-n1", "--list", name, cwd=self.path)

    def refuse_pushes(self) -> None:
        """The origin becomes read-only for pushes (a pre-receive hook says no)."""
        hook = self.path / "hooks" / "pre-receive"
        hook.write_text("#!/bin/sh\necho 'read-only mirror: pushes are refused' >&2\nexit 1\n")
        hook.chmod(0o755)
