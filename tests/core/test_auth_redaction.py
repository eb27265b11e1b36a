"""The Authorization rule (docs/fly.md, "Authentication") and secret redaction."""

from __future__ import annotations

import pytest

from hotdash_ops.fly.auth import authorization_header
from hotdash_ops.redaction import REDACTED, Redactor, default_redactor


@pytest.mark.parametrize(
    ("token", "header"),
    [
        ("FlyV1 fm2_abc", "FlyV1 fm2_abc"),
        ("Bearer xyz", "Bearer xyz"),
        ("fm1r_abc", "FlyV1 fm1r_abc"),
        ("fm1a_abc", "FlyV1 fm1a_abc"),
        ("fm2_abc", "FlyV1 fm2_abc"),
        ("plainoauthtoken", "Bearer plainoauthtoken"),
        ("fm2_a,fm2_b", "FlyV1 fm2_a,fm2_b"),
        ("oauth1,fm2_b", "FlyV1 oauth1,fm2_b"),
        ("fm3_abc", "Bearer fm3_abc"),
    ],
)
def test_authorization_header(token: str, header: str) -> None:
    assert authorization_header(token) == header


def test_authorization_header_refuses_empty() -> None:
    with pytest.raises(ValueError, match="token"):
        authorization_header("  ")


def test_redactor_replaces_token_and_header_forms() -> None:
    r = Redactor(["fm2_secretvalue123"])
    text = "auth: FlyV1 fm2_secretvalue123 / Bearer fm2_secretvalue123 / fm2_secretvalue123"
    out = r.redact(text)
    assert "fm2_secretvalue123" not in out
    assert out.count(REDACTED) == 3


def test_redactor_handles_prefixed_and_multi_tokens() -> None:
    r = Redactor()
    r.add("FlyV1 fm2_aaaa1111,fm2_bbbb2222")
    r.add(None)
    r.add("")
    out = r.redact("x fm2_bbbb2222 y fm2_aaaa1111 z")
    assert "fm2_" not in out


def test_redact_obj_nested() -> None:
    r = Redactor(["supersecret99"])
    assert r.redact_obj({"a": ["x supersecret99"], "b": {"c": "supersecret99"}, "n": 3}) == {
        "a": [f"x {REDACTED}"],
        "b": {"c": REDACTED},
        "n": 3,
    }


def test_default_redactor_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLY_API_TOKEN", "fm2_fromenv")
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET", "hooksecret-123")
    monkeypatch.setenv("SHORT_KEY", "abc")  # too short to be treated as a secret
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "admin:pass")
    r = default_redactor()
    out = r.redact("fm2_fromenv hooksecret-123 abc admin:pass")
    assert out == f"{REDACTED} {REDACTED} abc {REDACTED}"
