"""The production approval gates. Their pause keys and form fields are a contract (people
approve through them, README "deploy-production"; tests drive them).

`deploy-production` asks twice, manager then reliability. Each ask is one pause key
(`manager-approval`, then `manager-approval-2`, `-3`... after a refused input, because
Prefect answers a used key with its old input) and one form with exactly the fields
`approver`, `approve`, `comment`.

The rules, in the order they are applied to an answer:

1. it arrived after the deadline: the deploy is rejected (approval timed out);
2. no approver name: refused, ask again;
3. the requester: refused (nobody approves their own deploy), ask again;
4. the inventory lists approvers for the gate's role and the name is not among them:
   refused, ask again;
5. the person who already approved the other gate: refused (two different people), ask again;
6. `approve: false`: the deploy is rejected;
7. otherwise: approved.

An ineligible person can neither approve nor reject (rules 2-5 come before 6). Names are
compared ignoring case and runs of spaces. Plain Python: the Prefect `RunInput` form is built
from `ApprovalFields` in `tasks/approvals.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from hotdash_ops.operator_input import Comment, PersonName

GATES: tuple[str, ...] = ("manager", "reliability")
MAX_ATTEMPTS = 20  # refused inputs per gate before the deploy is rejected (a runaway guard)


class ApprovalFields(BaseModel):
    """The approval form (the contract: these three fields, these names and types)."""

    # Typed so that the server refuses a blank, overlong or multi-line name before the run
    # sees it (the types are still `str` in the contract; rule 2 stays for direct callers).
    approver: PersonName = Field(
        description="Your name. The requester of the deploy may not approve."
    )
    approve: bool = Field(
        default=False, description="On: approve this production deploy. Off: reject it."
    )
    comment: Comment = Field(default="", description="Why; kept in the audit log.")


class Verdict(StrEnum):
    """What one answer at a gate does."""

    APPROVED = "approved"
    REJECTED = "rejected"  # approve: false from an eligible approver: the deploy stops
    REFUSED = "refused"  # the input does not count; the gate asks again
    TIMED_OUT = "timed_out"  # no decision before the deadline: the deploy stops


class Decision(BaseModel):
    """One answer at one pause key, judged."""

    gate: str
    key: str
    verdict: Verdict
    approver: str = ""
    comment: str = ""
    reason: str  # one sentence a person reads in the log, the artifact and the notification
    received_at: datetime | None = None

    @property
    def final(self) -> bool:
        """The gate is done (approved) or the deploy is over (rejected, timed out)."""
        return self.verdict is not Verdict.REFUSED


def gate_key(gate: str, attempt: int = 1) -> str:
    """`manager-approval` for the first ask, `manager-approval-2` for the second, ..."""
    if gate not in GATES:
        raise ValueError(f"gate: must be one of {', '.join(GATES)}, not {gate!r}")
    if attempt < 1:
        raise ValueError("attempt: must be at least 1")
    base = f"{gate}-approval"
    return base if attempt == 1 else f"{base}-{attempt}"


def same_person(a: str, b: str) -> bool:
    """Names compared ignoring case and spacing ("Ann  Lee" is "ann lee")."""
    return _norm(a) == _norm(b) != ""


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def _display(name: str) -> str:
    return " ".join(name.split())


def judge(
    answer: ApprovalFields,
    *,
    gate: str,
    key: str,
    requester: str,
    allowed: Sequence[str] = (),
    other_approver: str | None = None,
    received_at: datetime | None = None,
    deadline: datetime | None = None,
) -> Decision:
    """Apply the gate's rules (module docstring) to one answer."""
    who = _display(answer.approver)
    comment = answer.comment.strip()

    def decided(verdict: Verdict, reason: str) -> Decision:
        return Decision(
            gate=gate,
            key=key,
            verdict=verdict,
            approver=who,
            comment=comment,
            reason=reason,
            received_at=received_at,
        )

    if deadline is not None and received_at is not None and received_at >= deadline:
        late = timed_out(gate, key, deadline, received_at=received_at)
        return late.model_copy(update={"approver": who, "comment": comment})
    if not who:
        return decided(
            Verdict.REFUSED, f"{key}: no approver name was given; type your name in `approver`."
        )
    if same_person(who, requester):
        return decided(
            Verdict.REFUSED,
            f"{key}: {who} requested this deploy and may not approve it; "
            "another person must decide.",
        )
    if allowed and not any(same_person(who, name) for name in allowed):
        listed = ", ".join(_display(n) for n in allowed)
        return decided(
            Verdict.REFUSED, f"{key}: {who} is not a listed {gate} approver (listed: {listed})."
        )
    if other_approver and same_person(who, other_approver):
        return decided(
            Verdict.REFUSED,
            f"{key}: {who} already approved the other gate; "
            f"the {gate} approval must come from someone else.",
        )
    if not answer.approve:
        why = f" ({comment})" if comment else ""
        return decided(Verdict.REJECTED, f"rejected by {who} at {key}{why}.")
    return decided(Verdict.APPROVED, f"{gate} approval given by {who} at {key}.")


def timed_out(
    gate: str, key: str, deadline: datetime, *, received_at: datetime | None = None
) -> Decision:
    """The deadline passed before a decision at `key`: the deploy is rejected."""
    return Decision(
        gate=gate,
        key=key,
        verdict=Verdict.TIMED_OUT,
        reason=(
            f"rejected: approval timed out: no decision at {key} before the deadline "
            f"{deadline.isoformat(timespec='seconds')}; nothing was deployed."
        ),
        received_at=received_at,
    )


def invalid_answer(gate: str, key: str, problems: str) -> Decision:
    """An answer the form's own rules refuse after the server took it (e.g. a blank name
    passes the JSON schema, not `PersonName`): refused, the gate asks again."""
    return Decision(
        gate=gate, key=key, verdict=Verdict.REFUSED, reason=f"{key}: {problems}; answer again."
    )


def too_many_attempts(gate: str, key: str) -> Decision:
    """A gate refused MAX_ATTEMPTS inputs: stop asking (someone is scripting at it)."""
    return Decision(
        gate=gate,
        key=key,
        verdict=Verdict.REJECTED,
        reason=f"rejected: {MAX_ATTEMPTS} refused inputs at the {gate} gate; ask again later.",
    )


class ApprovalRequest(BaseModel):
    """What the approvers are asked to approve (shown above the form)."""

    app: str
    image: str
    release_tag: str
    checklist_url: str
    reason: str
    requested_by: str
    staging_smoke: str  # one line: "passed (6 endpoints)" or the failures
    parity: str  # one line, or "not checked: <why>"
    window: str  # the deploy window check's sentence
    build: str = "unknown"  # the commit and its tests' result, or "untested: ..."
    untested_image_reason: str | None = None  # given when the image is not a tested build
    critical: bool = False
    strategy: str = "rolling"  # how it is deployed (hotdash_ops.deploys.canary.DeployPlan)
    error_budget: str = "not checked"  # hotdash_ops.deploys.budget_gate's line
    deadline: datetime | None = None  # set when the gates open
    run_url: str | None = None


def who_may_approve(gate: str, allowed: Sequence[str]) -> str:
    """The gate's eligibility rule in one sentence (the form and the run log say it)."""
    if allowed:
        return f"only the listed {gate} approvers: {', '.join(_display(n) for n in allowed)}"
    return (
        f"any name counts: the inventory lists no {gate} approvers (approvers.{gate} is "
        "empty), so anyone but the requester can approve"
    )


def form_description(
    request: ApprovalRequest,
    *,
    gate: str,
    key: str,
    allowed: Sequence[str] = (),
    decisions: Sequence[Decision] = (),
) -> str:
    """The Markdown above the approval form: what is approved, who may approve it, and what
    happened so far."""
    untested = (
        [f"| **untested image** | {_cell(request.untested_image_reason)} |"]
        if request.untested_image_reason
        else []
    )
    critical = (
        "yes: a risky release, deployed only in the off-hours window"
        if request.critical
        else "no: a normal release, no deploy window (only a freeze stops it)"
    )
    lines = [
        f"## Production deploy of `{request.app}`: {gate} approval",
        "",
        "| | |",
        "| --- | --- |",
        f"| image | `{request.image}` |",
        f"| commit and tests | {_cell(request.build)} |",
        *untested,
        f"| release tag | `{request.release_tag}` |",
        f"| checklist | {request.checklist_url} |",
        f"| reason | {_cell(request.reason)} |",
        f"| requested by | {_cell(request.requested_by)} |",
        f"| critical | {critical} |",
        f"| deploy window | {_cell(request.window)} |",
        f"| deploy strategy | {_cell(request.strategy)} |",
        f"| error budget | {_cell(request.error_budget)} |",
        f"| staging smoke test | {_cell(request.staging_smoke)} |",
        f"| parity (staging vs production) | {_cell(request.parity)} |",
        f"| who may approve | {_cell(who_may_approve(gate, allowed))} |",
        f"| decide before | {_when(request.deadline)} |",
        "",
        f"Pause key `{key}`. Type your name in **approver**; switch **approve** on to approve "
        "or leave it off to reject; say why in **comment**. The requester may not approve, "
        "and the two gates need two different people.",
    ]
    if decisions:
        lines += ["", "So far:"]
        lines += [f"- {_cell(d.reason)}" for d in decisions]
    return "\n".join(lines)


def _when(deadline: datetime | None) -> str:
    return deadline.isoformat(timespec="minutes") if deadline else "no deadline"


def _cell(text: str) -> str:
    # Keep a value inside its table cell.
    return " ".join(text.split()).replace("|", "\\|")
