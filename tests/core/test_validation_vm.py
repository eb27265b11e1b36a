"""Input validation (refused before any fly command runs) and the VM size rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hotdash_ops import validation as v
from hotdash_ops.models import Guest, validate_vm


@pytest.mark.parametrize("name", ["hotdash-staging", "ab", "a1", "x" * 63])
def test_app_name_ok(name: str) -> None:
    assert v.app_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("-a", "must not start with '-'"),
        ("--app=evil", "must not start with '-'"),
        ("Hotdash", "not a Fly app name"),
        ("a", "not a Fly app name"),
        ("x" * 64, "not a Fly app name"),
        ("app-", "not a Fly app name"),
        ("app;rm -rf /", "not a Fly app name"),
        ("app\nname", "control characters"),
        ("app name", "not a Fly app name"),
    ],
)
def test_app_name_refused(name: str, rule: str) -> None:
    with pytest.raises(ValueError, match=r"^app: ") as exc:
        v.app_name(name)
    assert rule in str(exc.value)


@pytest.mark.parametrize(
    "ref",
    [
        "registry.fly.io/hotdash-staging:deployment-01HYYYYY",
        "registry.fly.io/myapp:v1.2.3",
        "nginx",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "localhost:5000/app:latest",
    ],
)
def test_image_ref_ok(ref: str) -> None:
    assert v.image_ref(ref) == ref


@pytest.mark.parametrize("ref", ["--build-arg=x", "registry.fly.io/app:tag; ls", "app tag", ""])
def test_image_ref_refused(ref: str) -> None:
    with pytest.raises(ValueError, match=r"^image: "):
        v.image_ref(ref)


def test_volume_machine_region() -> None:
    assert v.volume_id("vol_9vw681egy1jj5xm4")
    assert v.machine_id("3d8d9e1b2c4f87")
    assert v.region("iad")
    for bad in ("-vol_abc", "vol_ABC!", "9vw681egy1jj5xm4"):
        with pytest.raises(ValueError, match=r"^volume_id: "):
            v.volume_id(bad)
    with pytest.raises(ValueError, match=r"^region: "):
        v.region("IAD1")


def test_release_tag() -> None:
    assert v.release_tag("v2025.10.14a") == "v2025.10.14a"
    with pytest.raises(ValueError, match=r"^release_tag: .*vYYYY\.MM\.DD"):
        v.release_tag("2025.10.14a")
    with pytest.raises(ValueError, match=r"^release_tag: .*invalid date"):
        v.release_tag("v2025.02.30a")
    with pytest.raises(ValueError, match="must not start with '-'"):
        v.release_tag("-v2025.10.14a")


def test_urls() -> None:
    assert v.https_url("https://your-project.supabase.co/rest/v1/")
    for bad, rule in [
        ("http://example.com", "https"),
        ("https://user:pw@example.com", "credentials"),
        ("https:///nohost", "no host"),
        ("file:///etc/passwd", "no host"),
        ("https://a.com/ x", "whitespace"),
    ]:
        with pytest.raises(ValueError, match=rule):
            v.https_url(bad)
    assert v.service_url("http://127.0.0.1:4280/x")
    with pytest.raises(ValueError, match="https"):
        v.service_url("http://10.0.0.1/x")


def test_annotated_types_in_models() -> None:
    class Params(BaseModel):
        app: v.AppName
        tag: v.ReleaseTag
        image: v.ImageRef

    Params(app="hotdash-production", tag="v2025.10.14a", image="registry.fly.io/x:y")
    with pytest.raises(ValidationError, match="app: must not start"):
        Params(app="-x", tag="v2025.10.14a", image="registry.fly.io/x:y")


def test_vm_presets_and_rules() -> None:
    assert validate_vm("shared-cpu-1x") == Guest(cpu_kind="shared", cpus=1, memory_mb=256)
    assert validate_vm("shared-cpu-2x", 1024).memory_mb == 1024
    assert validate_vm("performance-1x", 4096).memory_mb == 4096
    with pytest.raises(ValueError, match=r"memory_mb: shared-cpu-1x takes 256-2048 MB"):
        validate_vm("shared-cpu-1x", 4096)
    with pytest.raises(ValueError, match=r"multiple of 256"):
        validate_vm("shared-cpu-1x", 300)
    with pytest.raises(ValueError, match=r"performance-2x takes 4096-16384"):
        validate_vm("performance-2x", 2048)
    with pytest.raises(ValueError, match=r"multiple of 2048"):
        validate_vm("performance-1x", 3072)
    with pytest.raises(ValueError, match=r"^size: 'huge-cpu' is not a VM size"):
        validate_vm("huge-cpu")


@given(st.text(min_size=0, max_size=40))
def test_option_like_values_always_refused(tail: str) -> None:
    value = "-" + tail
    for check in (v.app_name, v.image_ref, v.volume_id, v.release_tag, v.region, v.https_url):
        with pytest.raises(ValueError, match="must not start with '-'|must be a string"):
            check(value)


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]", fullmatch=True))
def test_generated_app_names_accepted(name: str) -> None:
    assert v.app_name(name) == name
