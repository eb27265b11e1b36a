"""The flyctl runner against a real subprocess (a tiny fake `fly` script)."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from hotdash_ops.errors import FlyctlError
from hotdash_ops.fly.flyctl import Flyctl
from hotdash_ops.redaction import REDACTED

TOKEN = "fm2_sup3rsecrettokenvalue"

FAKE_FLY = """#!{python}
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
Path(os.environ["RECORD"]).write_text(json.dumps({{
    "argv": sys.argv, "token": os.environ.get("FLY_API_TOKEN"), "cwd": os.getcwd(),
    "access_token": os.environ.get("FLY_ACCESS_TOKEN")}}))
if args[:1] == ["status"]:
    print(json.dumps({{"ID": "1", "Name": args[2], "Version": 7, "Machines": [
        {{"id": "3d8d9e1b2c4f87", "state": "started", "region": "iad"}}]}}, indent=4))
elif args[:1] == ["releases"]:
    print(json.dumps([{{"ID": "r", "Version": 7, "Status": "complete",
        "CreatedAt": "2025-10-14T09:00:00Z", "ImageRef": "registry.fly.io/a:b",
        "User": {{"Email": "ops@example.com"}}}}], indent=4))
elif args[:1] == ["logs"]:
    for m in ("one", "ERROR two"):
        print(json.dumps({{"message": m, "level": "info", "timestamp": "2025-10-14T09:00:00Z"}},
                         indent=4))
elif args[:2] == ["volumes", "extend"]:
    print(json.dumps({{"id": args[2], "name": "data", "state": "extending", "size_gb": 10,
                      "region": "iad"}}))
elif args[:1] == ["sleep"]:
    time.sleep(30)
elif args[:1] in (["polite"], ["stubborn"]):
    import signal
    def stop(signum, frame):
        Path(os.environ["RECORD"] + ".signal").write_text(str(signum))
        if args[0] == "polite":  # flyctl: release marked interrupted, exit 127
            print("Error: deploy interrupted", file=sys.stderr, flush=True)
            sys.exit(127)
    signal.signal(signal.SIGTERM, stop)
    print("started", flush=True)
    while True:
        time.sleep(0.05)
elif args[:2] == ["config", "show"]:
    print(json.dumps({{"app": args[3], "http_service": {{"internal_port": 8080}}}}, indent=2))
elif args[:1] == ["fail"]:
    print("Error: unauthorized for token " + os.environ.get("FLY_API_TOKEN", ""), file=sys.stderr)
    sys.exit(1)
elif args[:1] == ["notjson"]:
    print("hello")
"""


# The time limit of the SIGTERM tests: the stand-in must have started (its handler set) by
# then. 0.3 s was too short for a Python process on a machine loaded 6 times over its cores.
STARTED_BY = 2.0


@pytest.fixture
def fake_fly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fly"
    script.write_text(FAKE_FLY.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RECORD", str(tmp_path / "record.json"))
    monkeypatch.delenv("FLY_API_TOKEN", raising=False)
    return script


def record(tmp_path: Path) -> dict[str, object]:
    data = json.loads((tmp_path / "record.json").read_text())
    assert isinstance(data, dict)
    return data


def test_status_token_only_in_env(fake_fly: Path, tmp_path: Path) -> None:
    fly = Flyctl(command=str(fake_fly), token=TOKEN)
    st = fly.status("hotdash-staging")
    assert st.name == "hotdash-staging" and st.version == 7 and st.machines[0].region == "iad"
    seen = record(tmp_path)
    assert seen["token"] == TOKEN
    assert seen["argv"][1:] == ["status", "-a", "hotdash-staging", "--json"]
    assert all(TOKEN not in a for a in seen["argv"])


def test_releases_logs_extend(fake_fly: Path, tmp_path: Path) -> None:
    fly = Flyctl(command=str(fake_fly), token=TOKEN)
    rel = fly.releases("hotdash-production")
    assert rel[0].version == 7 and rel[0].user_email == "ops@example.com"
    logs = fly.logs("hotdash-production")
    assert [e.message for e in logs] == ["one", "ERROR two"]
    assert record(tmp_path)["argv"][1:] == [
        "logs",
        "-a",
        "hotdash-production",
        "--no-tail",
        "--json",
    ]
    assert fly.config_show("hotdash-production") == {
        "app": "hotdash-production",
        "http_service": {"internal_port": 8080},
    }
    assert record(tmp_path)["argv"][1:] == ["config", "show", "-a", "hotdash-production"]


def test_deploy_argv_and_source_cwd(fake_fly: Path, tmp_path: Path) -> None:
    fly = Flyctl(command=str(fake_fly))
    result = fly.deploy(
        "hotdash-staging", "registry.fly.io/hotdash-staging:v1", strategy="immediate"
    )
    assert result.exit_code == 0 and result.duration_s >= 0
    assert record(tmp_path)["argv"][1:] == [
        "deploy",
        "-a",
        "hotdash-staging",
        "--image",
        "registry.fly.io/hotdash-staging:v1",
        "--strategy",
        "immediate",
        "--yes",
    ]
    config = tmp_path / "fly.json"
    config.write_text("{}")
    fly.deploy("hotdash-staging", "registry.fly.io/hotdash-staging:v1", config=config,
               max_unavailable=1)  # fmt: skip
    assert record(tmp_path)["argv"][1:] == [
        "deploy", "-a", "hotdash-staging", "--image", "registry.fly.io/hotdash-staging:v1",
        "--strategy", "rolling", "-c", str(config), "--max-unavailable", "1", "--yes",
    ]  # fmt: skip
    src = tmp_path / "src"
    src.mkdir()
    fly.deploy_source("hotdash-staging", src)
    assert record(tmp_path)["cwd"] == str(src)
    assert record(tmp_path)["argv"][1:] == [
        "deploy",
        "-a",
        "hotdash-staging",
        "--remote-only",
        "--yes",
    ]
    sha = "3f2c1d9a0b1c" + "0" * 28
    fly.deploy_source(
        "hotdash-staging",
        src,
        image_label=f"git-{sha}",
        labels={"org.opencontainers.image.revision": sha},
    )
    assert record(tmp_path)["argv"][1:] == [
        "deploy", "-a", "hotdash-staging", "--remote-only", "--image-label", f"git-{sha}",
        "--label", f"org.opencontainers.image.revision={sha}", "--yes",
    ]  # fmt: skip
    kept = src / "fly.hotdash-ops.json"
    kept.write_text("{}")
    fly.deploy_source("hotdash-staging", src, config=kept)
    assert record(tmp_path)["argv"][1:] == [
        "deploy", "-a", "hotdash-staging", "--remote-only", "-c", str(kept), "--yes",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="config: .* is not a file"):
        fly.deploy_source("hotdash-staging", src, config=src / "missing.json")
    for label, labels, message in [
        ("--app=x", {}, "image_label: must not start with '-'"),
        ("a b", {}, "image_label: 'a b' is not an image tag"),
        (None, {"Bad Key": "x"}, "label: 'Bad Key' is not a label key"),
        (None, {"k": "-x"}, "label k: must not start with '-'"),
        (None, {"k": "a\nb"}, "label k: must not contain control characters"),
    ]:
        with pytest.raises(ValueError, match=message):
            fly.deploy_source("hotdash-staging", src, image_label=label, labels=labels)
    fly.scale_count("hotdash-agent-service", 1, max_per_region=1)
    assert record(tmp_path)["argv"][1:] == [
        "scale",
        "count",
        "1",
        "-a",
        "hotdash-agent-service",
        "--max-per-region",
        "1",
        "--yes",
    ]


def test_failure_is_redacted(fake_fly: Path) -> None:
    fly = Flyctl(command=str(fake_fly), token=TOKEN)
    with pytest.raises(FlyctlError) as exc:
        fly.run(["fail"])
    err = exc.value
    assert err.exit_code == 1
    assert TOKEN not in err.stderr and REDACTED in err.stderr
    assert TOKEN not in str(err) and TOKEN not in " ".join(err.argv)


def test_timeout(fake_fly: Path) -> None:
    with pytest.raises(FlyctlError, match=r"timed out after 0.5 s") as exc:
        Flyctl(command=str(fake_fly), grace=5).run(["sleep"], timeout=0.5)
    assert exc.value.exit_code == -1
    assert "stopped with SIGTERM (flyctl exited -15)" in exc.value.message


def test_at_its_time_limit_flyctl_gets_sigterm_and_may_record_the_end(
    fake_fly: Path, tmp_path: Path
) -> None:
    """flyctl marks the release interrupted on SIGTERM (and exits 127): it must get the chance,
    SIGKILL would leave the release running."""
    with pytest.raises(FlyctlError) as exc:
        Flyctl(command=str(fake_fly), grace=5).run(["polite"], timeout=STARTED_BY)
    assert (tmp_path / "record.json.signal").read_text() == str(signal.SIGTERM)
    assert exc.value.message.endswith(
        f"polite: timed out after {STARTED_BY:g} s; stopped with SIGTERM (flyctl exited 127)"
    )
    assert "deploy interrupted" in exc.value.stderr


def test_a_flyctl_that_ignores_sigterm_is_killed_after_the_grace_period(
    fake_fly: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(FlyctlError) as exc:
        Flyctl(command=str(fake_fly), grace=0.3).run(["stubborn"], timeout=STARTED_BY)
    assert time.monotonic() - started >= STARTED_BY + 0.3  # the limit, then the whole grace
    assert (tmp_path / "record.json.signal").read_text() == str(signal.SIGTERM)
    assert exc.value.message.endswith("killed with SIGKILL after a 0.3 s grace period")


def test_a_deploy_has_its_own_longer_limit() -> None:
    fly = Flyctl(timeout=600, deploy_timeout=3600)
    assert fly.deploy_timeout > fly.timeout


def test_not_json_and_missing_command(fake_fly: Path, tmp_path: Path) -> None:
    with pytest.raises(FlyctlError, match="not JSON"):
        Flyctl(command=str(fake_fly)).run_json(["notjson"])
    with pytest.raises(FlyctlError, match="cannot run") as exc:
        Flyctl(command=str(tmp_path / "no-such-fly")).run(["status"])
    assert exc.value.exit_code == 127


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.status("--access-token=x"), "app: must not start with '-'"),
        (lambda f: f.deploy("hotdash-staging", "-i"), "image: must not start with '-'"),
        (lambda f: f.deploy("hotdash-staging", "nginx", strategy="yolo"), "strategy: "),
        (lambda f: f.volume_delete("hotdash-staging", "--all"), "volume_id: "),
        (lambda f: f.deploy("hotdash-staging", "nginx", max_unavailable=0), "max_unavailable: "),
        (lambda f: f.scale_count("hotdash-staging", -1), "count: "),
        (lambda f: f.scale_vm("hotdash-staging", "shared-cpu-1x", memory_mb=4096), "memory_mb: "),
    ],
)
def test_hostile_input_refused_before_running(
    fake_fly: Path, tmp_path: Path, call: object, message: str
) -> None:
    fly = Flyctl(command=str(fake_fly))
    with pytest.raises(ValueError, match=message):
        call(fly)
    assert not (tmp_path / "record.json").exists()


def test_env_passthrough(fake_fly: Path, tmp_path: Path) -> None:
    os.environ["HOTDASH_TEST_MARKER"] = "1"
    try:
        Flyctl(command=str(fake_fly), env={"EXTRA": "2"}).run(["noop"])
    finally:
        del os.environ["HOTDASH_TEST_MARKER"]
    assert record(tmp_path)["token"] is None


def test_fly_access_token_never_reaches_flyctl(
    fake_fly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flyctl reads FLY_ACCESS_TOKEN before FLY_API_TOKEN: a stray one would be used instead
    of the configured token."""
    monkeypatch.setenv("FLY_ACCESS_TOKEN", "someone-elses-token")
    Flyctl(command=str(fake_fly), token=TOKEN).run(["noop"])
    seen = record(tmp_path)
    assert (seen["token"], seen["access_token"]) == (TOKEN, None)
