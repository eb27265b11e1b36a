"""The validation rules the hostile suite relies on (hotdash_ops.validation, operator_input),
and the pause forms people type into: every free-text field is bounded and one line."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefect.input import RunInput
from pydantic import BaseModel, TypeAdapter, ValidationError

from hotdash_ops import validation as v
from hotdash_ops.operator_input import ONE_LINE_PATTERN, Comment, PersonName, Reason, Requester
from tests.security.hostile import hostile_strings, one_line_text


@pytest.mark.parametrize(
    "text",
    [
        "a\u2028b",
        "a\u2029b",
        "x\x85y",
        "alice\u202e",
        "\u2066bob",
        "tab\there",
        "esc\x1b[2J",
        "\x9b1m",
    ],
)
def test_free_text_is_one_line_without_bidi_tricks(text: str) -> None:
    for kind in (Requester, Reason, PersonName):
        with pytest.raises(ValidationError, match="one line|should match pattern"):
            TypeAdapter(kind).validate_python(text)


def test_free_text_keeps_names_in_any_script() -> None:
    for name in ["Zoë Ñúñez", "Łukasz", "山田 太郎", "محمد", "👩\u200d💻 ops", "Anne-Marie O'Neil"]:
        assert TypeAdapter(Requester).validate_python(f"  {name} ") == name
        assert TypeAdapter(PersonName).validate_python(name) == name
    assert TypeAdapter(Comment).validate_python("  ") == ""
    with pytest.raises(ValidationError, match="must not be empty"):
        TypeAdapter(PersonName).validate_python("   ")
    with pytest.raises(ValidationError, match="at most 100 characters"):
        TypeAdapter(PersonName).validate_python("x" * 101)


def test_the_pattern_is_the_same_rule_for_the_server() -> None:
    import re

    schema = TypeAdapter(PersonName).json_schema()
    assert schema["pattern"] == ONE_LINE_PATTERN and schema["maxLength"] == 100
    assert re.search(ONE_LINE_PATTERN, "ok name") and not re.search(ONE_LINE_PATTERN, "a\u2028b")


def test_refusals_quote_a_huge_value_shortly() -> None:
    with pytest.raises(ValueError) as exc:
        v.app_name("a" * 1_000_000)
    assert len(str(exc.value)) < 300 and "(1000000 characters)" in str(exc.value)
    with pytest.raises(ValueError, match=r"^image: 'registry.fly.io/x;ls' is not"):
        v.image_ref("registry.fly.io/x;ls")  # short values are quoted whole


def test_urls_a_person_clicks_are_plain_ascii_and_bounded() -> None:
    assert v.https_url("https://example.com/go-live?x=1") == "https://example.com/go-live?x=1"
    assert v.https_url("https://xn--exmple-cua.com/") == "https://xn--exmple-cua.com/"
    for bad, rule in [
        ("https://ex\u0430mple.com/", "printable ASCII"),
        ("https://example.com/\u202e", "printable ASCII"),
        ("https://example.com/" + "a" * 2100, "longer than 2048"),
        ("http://example.com/", "must be an https URL"),
        ("https://user:pw@example.com/", "credentials"),
    ]:
        with pytest.raises(ValueError, match=rule):
            v.https_url(bad, "checklist_url")


def test_release_tags_and_months_take_ascii_digits_only() -> None:
    assert v.release_tag("v2025.10.14a")
    with pytest.raises(ValueError, match="not a release tag"):
        v.release_tag("v\u0662\u0660\u0662\u0665.10.14a")
    month = TypeAdapter(v.Month)
    assert month.validate_python("2025-10") == "2025-10"
    for bad in ["\u0662\u0660\u0662\u0665-10", "２０２５-10", "2025-13", "2025-10\n", "2025-1"]:
        with pytest.raises(ValidationError):
            month.validate_python(bad)


def test_git_refs() -> None:
    for good in ["main", "hotfix/login-redirect", "v2025.10.14a", "3f2c1d9", "release_1.2"]:
        assert v.git_ref(good) == good
    for bad, rule in [
        ("--upload-pack=touch /tmp/x", "must not start with '-'"),
        ("main\n", "control characters"),
        ("main..evil", "not a branch, tag or commit name"),
        ("feature//x", "not a branch"),
        ("feature/", "not a branch"),
        ("refs/heads/x.lock", "not a branch"),
        (".hidden", "not a branch"),
        ("main@{1}", "not a branch"),
        ("ma\u0456n", "not a branch"),  # a Cyrillic i
        ("HEAD^", "not a branch"),
        ("a" * 201, "not a branch"),
    ]:
        with pytest.raises(ValueError, match=f"ref: .*{re.escape(rule)}"):
            v.git_ref(bad)


def test_git_repositories() -> None:
    for good in [
        "https://github.com/Jgorzitza/HotDash.git",
        "git@github.com:Jgorzitza/HotDash.git",
        "ssh://git@github.com/Jgorzitza/HotDash.git",
        "/srv/git/HotDash.git",
        "../../HotDash",
        "http://127.0.0.1:8080/HotDash.git",
    ]:
        assert v.git_repository(good) == good
    for bad, rule in [
        ("--config=/etc", "must not start with '-'"),
        ("  ", "must not be empty"),
        ("/srv/a\nb", "control characters"),
        ("/srv/\u202eevil", "one printable line"),
        ("/" + "a" * 5000, "longer than 4096"),
        ("https://bob:pw@github.com/x.git", "must not carry credentials"),
        ("ext::sh -c id", "'<transport>::' addresses are not allowed"),
        ("fd::17", "'<transport>::' addresses are not allowed"),
        ("http://example.com/x.git", "use an https, ssh, git or file URL"),
        ("ftp://example.com/x.git", "use an https, ssh, git or file URL"),
    ]:
        with pytest.raises(ValueError, match=f"repository: .*{re.escape(rule)}"):
            v.git_repository(bad)


# -- the pause forms ---------------------------------------------------------------------


def pause_forms() -> dict[str, type[BaseModel]]:
    """Every RunInput form defined in flows/ and tasks/."""
    import flows
    import tasks

    found: dict[str, type[BaseModel]] = {}
    for package in (flows, tasks):
        for module in pkgutil.iter_modules(package.__path__):
            mod = importlib.import_module(f"{package.__name__}.{module.name}")
            for obj in vars(mod).values():
                if (
                    isinstance(obj, type)
                    and issubclass(obj, RunInput)
                    and obj is not RunInput
                    and obj.__module__ == mod.__name__
                ):
                    found[obj.__name__] = obj
    return found


# Free-text form fields and their length bound. Forms change with their flows: a new str field
# fails `test_every_form_text_field_is_listed` until it is listed here.
FORM_TEXT: dict[tuple[str, str], int] = {
    ("ApprovalInput", "approver"): 100,
    ("ApprovalInput", "comment"): 500,
    ("IncidentDecision", "decided_by"): 100,
    ("IncidentDecision", "comment"): 500,
    ("ChooseVolumes", "confirmed_by"): 100,
    ("ConfirmScaleDown", "confirmed_by"): 100,
    ("CanaryDecisionForm", "decided_by"): 100,
    ("CanaryDecisionForm", "comment"): 500,
}
# Gaps in forms owned by other modules (a ratchet, like hostile.KNOWN_GAPS): the test asserts
# each still shows, so a fix forces its removal from here.
FORM_GAPS: dict[tuple[str, str], tuple[str, str]] = {}


def test_every_form_text_field_is_listed() -> None:
    forms = pause_forms()
    assert {"ApprovalInput", "IncidentDecision", "ChooseVolumes", "ConfirmScaleDown"} <= set(forms)
    text_fields = {
        (name, field)
        for name, form in forms.items()
        for field, info in form.model_fields.items()
        if info.annotation is str
    }
    assert text_fields == set(FORM_TEXT)


@pytest.mark.parametrize(("form_name", "field"), sorted(FORM_TEXT))
def test_form_text_is_refused_or_bounded_and_one_line(form_name: str, field: str) -> None:
    form = pause_forms()[form_name]
    base = {
        name: (True if info.annotation is bool else "alice")
        for name, info in form.model_fields.items()
        if info.is_required()
    }

    @settings(
        max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(value=st.one_of(hostile_strings("alice"), hostile_strings("")))
    def hostile(value: str) -> None:
        try:
            accepted = form.model_validate({**base, field: value})
        except ValidationError as exc:
            assert field in str(exc)
            return
        got = getattr(accepted, field)
        if one_line_text(got, FORM_TEXT[(form_name, field)]) or (got == "" and field == "comment"):
            return
        assert (form_name, field) in FORM_GAPS, f"{form_name}.{field} accepted {got!r:.200}"

    hostile()
    if (form_name, field) in FORM_GAPS:
        probe, fix = FORM_GAPS[(form_name, field)]
        got = getattr(form.model_validate({**base, field: probe}), field)
        still_open = not one_line_text(got, FORM_TEXT[(form_name, field)])
        assert still_open, f"{form_name}.{field} looks fixed ({fix}): remove it from FORM_GAPS"
