"""A throw-away PostgreSQL cluster for end-to-end tests: Debian's `postgresql` package
(`apt-get install -y postgresql`), a fresh `initdb` in a temp folder, `pg_ctl` on a free
loopback port, one password-protected role and database for the Prefect server.

PostgreSQL refuses to run as root, so under root (CI containers) every server command runs
as the `postgres` system user the Debian package creates (`runuser -u postgres`). The cluster
listens on 127.0.0.1 only and its socket lives in its own folder, so it never touches a
cluster the machine may already run.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_USER = "postgres"  # the system account of Debian's package


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed."""


def bindir() -> Path:
    """Where initdb and pg_ctl are: the newest /usr/lib/postgresql/<v>/bin, else PATH."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable(
        "initdb not found: install PostgreSQL with `apt-get install -y postgresql`"
    )


@dataclass
class PostgresCluster:
    """A running cluster; `url` is the SQLAlchemy URL the Prefect server takes."""

    datadir: Path
    port: int
    user: str
    password: str
    database: str
    bin: Path
    run_as: str | None  # system user that owns the cluster, when we are root

    @property
    def url(self) -> str:
        return (
            f"postgresql+asyncpg://{self.user}:{self.password}"
            f"@127.0.0.1:{self.port}/{self.database}"
        )

    def libpq_url(self, database: str | None = None) -> str:
        """The same database (or another one) for psql / pg_dump."""
        db = database or self.database
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"

    def _cmd(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def psql(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL as the Prefect role over TCP; the output, unaligned, tuples only."""
        url = self.libpq_url(database)
        out = subprocess.run(
            [str(self.bin / "psql"), url, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        subprocess.run(
            self._cmd([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster(
    port: int, *, database: str = "prefect", user: str = "prefect"
) -> PostgresCluster:
    """initdb + pg_ctl start on 127.0.0.1:`port`; a role `user` owning database `database`."""
    bin_ = bindir()
    run_as = PG_USER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="hotdash-pg-"))
    datadir = root / "data"
    password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as:
        entry = pwd.getpwnam(run_as)
        for path in (root, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(datadir, port, user, password, database, bin_, run_as)

    def run(argv: list[str]) -> None:
        done = subprocess.run(cluster._cmd(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    run(
        [
            str(bin_ / "initdb"),
            "-D",
            str(datadir),
            "-U",
            user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-instructions",
            "--no-sync",
        ]
    )
    pwfile.unlink()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    run(
        [
            str(bin_ / "pg_ctl"),
            "-D",
            str(datadir),
            "-o",
            options,
            "-l",
            str(root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            cluster.psql("select 1", database="postgres")
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                cluster.stop()
                raise
            time.sleep(0.2)
    cluster.psql(f"create database {database} owner {user}", database="postgres")
    return cluster
