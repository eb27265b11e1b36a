"""The approval gates' rules (hotdash_ops.deploys.approvals), without Prefect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hotdash_ops.deploys.approvals import (
    ApprovalFields,
    ApprovalRequest,
    Decision,
    Verdict,
    form_description,
    gate_key,
    judge,
    same_person,
    timed_out,
)

T0 = datetime(2025, 10, 14, 17, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(hours=24)


def answer(approver: str, approve: bool = True, comment: str = "") -> ApprovalFields:
    return ApprovalFields(approver=approver, approve=approve, comment=comment)


def decide(a: ApprovalFields, **kw: object) -> Decision:
    args: dict[str, object] = {
        "gate": "manager",
        "key": "manager-approval",
        "requester": "Alice Ng",
        "received_at": T0,
        "deadline": DEADLINE,
    }
    args.update(kw)
    return judge(a, **args)


def test_the_form_has_exactly_the_contract_fields() -> None:
    fields = ApprovalFields.model_fields
    assert list(fields) == ["approver", "approve", "comment"]
    assert [fields[n].annotation for n in fields] == [str, bool, str]
    assert fields["approver"].is_required()
    assert ApprovalFields(approver="Bob").approve is False  # never approved by accident


def test_pause_keys_ask_again_with_a_fresh_key() -> None:
    assert gate_key("manager") == "manager-approval"
    assert gate_key("reliability", 1) == "reliability-approval"
    assert gate_key("manager", 2) == "manager-approval-2"
    assert gate_key("reliability", 3) == "reliability-approval-3"
    with pytest.raises(ValueError, match="gate: must be one of manager, reliability, not 'qa'"):
        gate_key("qa")
    with pytest.raises(ValueError, match="attempt: must be at least 1"):
        gate_key("manager", 0)


def test_names_compare_ignoring_case_and_spacing() -> None:
    assert same_person("Ann  Lee", " ann lee ")
    assert not same_person("Ann Lee", "Anne Lee")
    assert not same_person("", "  ")


def test_valid_approval() -> None:
    d = decide(answer("Bob", comment="checklist complete"))
    assert d.verdict is Verdict.APPROVED and d.final
    assert d.reason == "manager approval given by Bob at manager-approval."
    assert (d.approver, d.comment, d.received_at) == ("Bob", "checklist complete", T0)


def test_the_requester_is_refused_at_either_gate_whatever_the_spelling() -> None:
    d = decide(answer("  alice   NG "))
    assert d.verdict is Verdict.REFUSED and not d.final
    assert d.reason == (
        "manager-approval: alice NG requested this deploy and may not approve it; "
        "another person must decide."
    )
    d = decide(answer("Alice Ng", approve=False), gate="reliability", key="reliability-approval")
    assert d.verdict is Verdict.REFUSED  # nor reject it: only an eligible approver decides


def test_an_empty_approver_is_refused() -> None:
    # The form refuses it first (PersonName); a caller that builds the answer directly is
    # still refused by rule 2.
    with pytest.raises(ValidationError, match="approver"):
        ApprovalFields(approver="   ", approve=True)
    d = decide(ApprovalFields.model_construct(approver="   ", approve=True, comment=""))
    assert d.verdict is Verdict.REFUSED
    assert d.reason == "manager-approval: no approver name was given; type your name in `approver`."


def test_the_deadline_timers_answer_passes_the_form_and_counts_as_a_timeout() -> None:
    from tasks.approvals import DEADLINE_ANSWER

    late = DEADLINE + timedelta(seconds=1)
    d = decide(ApprovalFields.model_validate(DEADLINE_ANSWER), received_at=late)
    assert d.verdict is Verdict.TIMED_OUT


def test_the_same_person_cannot_approve_both_gates() -> None:
    d = decide(
        answer("BOB"), gate="reliability", key="reliability-approval-2", other_approver="Bob"
    )
    assert d.verdict is Verdict.REFUSED
    assert d.reason == (
        "reliability-approval-2: BOB already approved the other gate; "
        "the reliability approval must come from someone else."
    )


def test_where_approvers_are_listed_only_they_count() -> None:
    listed = ["Bob Smith", "Dana Ito"]
    d = decide(answer("Mallory"), allowed=listed)
    assert d.verdict is Verdict.REFUSED
    assert d.reason == (
        "manager-approval: Mallory is not a listed manager approver (listed: Bob Smith, Dana Ito)."
    )
    assert decide(answer("Mallory", approve=False), allowed=listed).verdict is Verdict.REFUSED
    assert decide(answer("dana  ITO"), allowed=listed).verdict is Verdict.APPROVED
    assert decide(answer("Mallory"), allowed=[]).verdict is Verdict.APPROVED  # empty: anyone


def test_approve_false_rejects_the_deploy() -> None:
    d = decide(answer("Bob", approve=False, comment=" item 4 is open "))
    assert d.verdict is Verdict.REJECTED and d.final
    assert d.reason == "rejected by Bob at manager-approval (item 4 is open)."


def test_a_rejection_without_a_reason_is_refused_and_asked_again() -> None:
    # A switch left off by mistake must not reject a deploy: a rejection says why.
    for comment in ("", "   "):
        d = decide(answer("Bob", approve=False, comment=comment))
        assert d.verdict is Verdict.REFUSED and not d.final
        assert d.reason == (
            "manager-approval: Bob rejected without a reason; to reject, say why in "
            "`comment`; to approve, switch `approve` on."
        )


def test_an_answer_after_the_deadline_is_a_timeout_never_an_approval() -> None:
    d = decide(answer("Bob"), received_at=DEADLINE + timedelta(seconds=1))
    assert d.verdict is Verdict.TIMED_OUT and d.final
    assert d.approver == "Bob"
    assert d.reason == (
        "rejected: approval timed out: no decision at manager-approval before the deadline "
        "2025-10-15 17:00 UTC; nothing was deployed."
    )
    local = decide(answer("Bob"), received_at=DEADLINE, tz="America/Los_Angeles")
    assert "before the deadline 2025-10-15 10:00 PDT;" in local.reason
    assert decide(answer("Bob"), received_at=DEADLINE - timedelta(seconds=1)).verdict is (
        Verdict.APPROVED
    )
    assert timed_out("reliability", "reliability-approval-2", DEADLINE).approver == ""


def test_the_form_leads_with_a_short_summary_and_keeps_the_details_below() -> None:
    request = ApprovalRequest(
        app="hotdash-production",
        image="registry.fly.io/hotdash-staging@sha256:" + "a" * 64,
        release_tag="v2025.10.14a",
        checklist_url="https://example.com/checklist",
        reason="Ship the | October dashboard",
        requested_by="Alice Ng",
        staging_smoke="smoke test passed (6/6 endpoints)",
        parity="parity: ok, no difference",
        window="a normal release: no deploy window",
        build="commit 3f2c1d9a0b1c (main: Fix the login redirect); tests passed (2 commands)",
        deadline=DEADLINE,
        timezone="America/Los_Angeles",
    )
    refused = decide(answer("Alice Ng"))
    text = form_description(request, gate="manager", key="manager-approval-2", decisions=[refused])
    summary, details = text.split("### Details")
    assert summary.startswith(
        "## manager approval: production deploy of `hotdash-production`\n\n"
        "**Your answer was refused: manager-approval: Alice Ng requested this deploy"
    )
    for line in (
        f"- **image** `hotdash-staging@sha256:{'a' * 12}…`",
        "- **release tag** `v2025.10.14a`",
        "- **commit** `3f2c1d9a0b1c`, tests passed (2 commands)",
        "- **requested by** Alice Ng",
        "- **reason** Ship the | October dashboard",
        "- **checklist** [open (example.com)](https://example.com/checklist)",
        "- **staging smoke** passed (6/6 endpoints)",
        "- **parity** ok, no difference",
        "- **window** a normal release: no deploy window",
        "- **decide before** 2025-10-15 10:00 PDT",  # the inventory's timezone, named
        "- **who may approve** anyone but the requester",
    ):
        assert line in summary.splitlines()
    # What each choice does, in the summary.
    assert "**approve on**: approve; the deploy goes on to the reliability gate." in summary
    assert "**approve off**: reject; nothing is deployed and the run ends." in summary
    assert "A rejection needs its reason in **comment**" in summary
    # No table (Prefect's dialog is narrow), and no summary line wider than the dialog.
    assert "| --- |" not in text
    assert max(len(line) for line in summary.splitlines() if line.startswith("- ")) < 100
    # The details: the full image (name, then digest, one line each), commit, checklist.
    assert f"```\nregistry.fly.io/hotdash-staging\n@sha256:\n{'a' * 64}\n```" in details
    assert "- commit and tests: commit 3f2c1d9a0b1c (main: Fix the login redirect)" in details
    assert "- checklist: <https://example.com/checklist>" in details
    assert "- times in America/Los_Angeles; pause key `manager-approval-2`" in details
    assert "- manager-approval: Alice Ng requested this deploy" in details


def test_the_form_says_the_commit_its_tests_criticality_and_who_may_approve() -> None:
    request = ApprovalRequest(
        app="hotdash-production",
        image="registry.fly.io/hotdash-staging:deployment-01J9",
        release_tag="v2025.10.14b",
        checklist_url="https://example.com/checklist",
        reason="Fix the login redirect",
        requested_by="Alice",
        staging_smoke="smoke test passed (6/6 endpoints)",
        parity="parity: ok, no difference",
        window="a critical deploy: inside the off-hours window",
        build="commit 3f2c1d9a0b1c (main: Fix the login redirect); tests passed (2 commands)",
        critical=True,
    )
    listed = form_description(request, gate="manager", key="manager-approval", allowed=["Bob"])
    assert "- **image** `hotdash-staging:deployment-01J9`" in listed
    assert "- critical: yes: a risky release, deployed only in the off-hours window" in listed
    assert "- **who may approve** Bob" in listed
    assert "- who may approve: only the listed manager approvers: Bob" in listed
    assert "- **decide before** no deadline" in listed
    assert "untested image" not in listed and "refused" not in listed
    anyone = form_description(
        request.model_copy(update={"untested_image_reason": "hotfix image built by hand"}),
        gate="reliability",
        key="reliability-approval",
    )
    assert "the deploy goes on to production." in anyone
    assert (
        "- who may approve: any name counts: the inventory lists no reliability approvers "
        "(approvers.reliability is empty), so anyone but the requester can approve"
    ) in anyone
    assert "- **commit** **untested image**: hotfix image built by hand" in anyone
