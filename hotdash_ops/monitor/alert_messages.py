"""The messages people receive about alerts: grouped per app, a digest when there are many.

Alertmanager's grouping, simplified: one run's notices about one app go out as one message
(CPU and memory high on the same app are one page, not two). When more apps than
`digest_over` have something to say in the same run (Prometheus down makes every app "no
data") they go out as ONE digest, so an outage of our own monitoring is one message, not a
storm. Every alert carries its runbook response steps and the flows that act on it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, tzinfo

from pydantic import BaseModel

from hotdash_ops.monitor.alert_response import response_for, title_for
from hotdash_ops.monitor.alert_state import AlertNotice, NoticeKind
from hotdash_ops.wording import counted


class AlertMessage(BaseModel):
    """One notification: what it says, and which notices it delivers."""

    subject: str
    body: str
    notices: list[AlertNotice]


_TAG = {
    NoticeKind.FIRING: "FIRING",
    NoticeKind.ESCALATED: "WORSE",
    NoticeKind.REMINDER: "STILL FIRING",
    NoticeKind.RESOLVED: "RESOLVED",
}


def _when(at: datetime | None, tz: tzinfo) -> str:
    if at is None:
        return "?"
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _state(notice: AlertNotice) -> str:
    """`FIRING critical`, `NO DATA`, `STILL FIRING (no data)`, `RESOLVED`."""
    if notice.kind == NoticeKind.RESOLVED:
        return "RESOLVED"
    tag = _TAG[notice.kind]
    if notice.condition == "no_data":
        return "NO DATA" if notice.kind == NoticeKind.FIRING else f"{tag} (no data)"
    return f"{tag} {notice.severity.value}"


def _headline(notice: AlertNotice) -> str:
    title = title_for(notice.rule)
    if notice.condition == "no_data" and notice.kind != NoticeKind.RESOLVED:
        title = f"{title}: no data"
    return title


def _section(notice: AlertNotice, tz: tzinfo) -> str:
    lines = [f"[{_state(notice)}] {notice.app}: {_headline(notice)}"]
    if notice.kind == NoticeKind.RESOLVED:
        lines.append(f"Now: {notice.resolution or 'passing'}")
        lines.append(f"Was: {notice.detail}")
        lines.append(
            f"Failing since {_when(notice.since, tz)}, fired {_when(notice.fired_at, tz)}, "
            f"resolved {_when(notice.resolved_at, tz)}."
        )
        if not notice.announced:
            lines.append(
                "It was not announced while it fired (held back during a deploy, or the "
                "notification could not be delivered)."
            )
        return "\n".join(lines)
    lines.append(notice.detail)
    lines.append(f"Since {_when(notice.since, tz)}; fired {_when(notice.fired_at, tz)}.")
    response = response_for(notice.rule, no_data=notice.condition == "no_data")
    lines.append(f"Response ({response.title}):")
    lines.extend(f"  {i}. {step}" for i, step in enumerate(response.steps, 1))
    lines.append(f"Flows: {', '.join(response.flows)}")
    return "\n".join(lines)


def _order(notice: AlertNotice) -> tuple[int, str, str]:
    # Worst first; resolved notices last.
    weight = -1 if notice.kind == NoticeKind.RESOLVED else notice.rank
    return (-weight, notice.app, notice.rule.value)


def _app_message(app: str, notices: list[AlertNotice], tz: tzinfo) -> AlertMessage:
    notices = sorted(notices, key=_order)
    if len(notices) == 1:
        n = notices[0]
        subject = f"[{_state(n)}] {app}: {_headline(n)}"
        if n.kind != NoticeKind.RESOLVED:
            subject += f" ({n.detail})"
    else:
        first = notices[0]
        tag = _state(first)
        titles = ", ".join(_headline(n) for n in notices)
        subject = f"[{tag}] {app}: {len(notices)} alerts ({titles})"
    body = "\n\n".join(_section(n, tz) for n in notices)
    return AlertMessage(subject=subject, body=body, notices=notices)


def _digest(groups: dict[str, list[AlertNotice]], tz: tzinfo) -> AlertMessage:
    notices = sorted((n for ns in groups.values() for n in ns), key=_order)
    counts: dict[str, int] = defaultdict(int)
    for n in notices:
        counts[_state(n)] += 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    subject = (
        f"[hotdash-ops] {counted(len(notices), 'alert notice')} on "
        f"{counted(len(groups), 'app')} ({summary})"
    )
    lines = [f"- [{_state(n)}] {n.app}: {_headline(n)}: {n.detail}" for n in notices]
    seen: dict[str, str] = {}
    for n in notices:
        if n.kind == NoticeKind.RESOLVED:
            continue
        response = response_for(n.rule, no_data=n.condition == "no_data")
        if response.title not in seen:
            steps = "; ".join(response.steps)
            seen[response.title] = f"{response.title}: {steps}. Flows: {', '.join(response.flows)}"
    body = "\n".join(lines)
    if seen:
        body += "\n\nResponse steps:\n" + "\n".join(f"- {s}" for s in seen.values())
    return AlertMessage(subject=subject, body=body, notices=notices)


def compose(
    notices: list[AlertNotice], *, digest_over: int = 10, tz: tzinfo = UTC
) -> list[AlertMessage]:
    """The messages for one run's notices: one per app, or one digest when many apps."""
    groups: dict[str, list[AlertNotice]] = defaultdict(list)
    for n in notices:
        groups[n.app].append(n)
    if not groups:
        return []
    if len(groups) > digest_over:
        return [_digest(groups, tz)]
    messages = [_app_message(app, ns, tz) for app, ns in groups.items()]
    # Critical pages first: if delivery breaks halfway, the worst news went out.
    return sorted(
        messages,
        key=lambda m: (
            -max(0 if n.kind == NoticeKind.RESOLVED else n.rank for n in m.notices),
            m.subject,
        ),
    )
