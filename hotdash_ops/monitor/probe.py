"""One HTTP check of an app endpoint (the runbook's `curl https://APP.fly.dev/health`), and
when not to make it.

Fly Proxy starts a stopped machine for any request that reaches an app whose service
autostarts (docs launch/autostop-autostart). A `/health` request every 15 minutes would keep
an auto-stopped app running and undo the saving auto-stop was set for. So an app whose
machines are all stopped or suspended, one of which the proxy would start, is not requested
when its inventory entry says `probe_when_stopped: false` (the default for background apps):
it is judged from its machines' state instead. An app that no request could wake (no service
autostarts) is still requested: the answer shows it is down.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx
from pydantic import BaseModel

from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import Machine
from hotdash_ops.redaction import Redactor, default_redactor

ASLEEP_STATES = frozenset({"stopped", "suspended"})


class ProbeResult(BaseModel):
    """What one request answered. `status` None means it could not be checked at all."""

    url: str
    expected_status: int
    status: int | None = None
    latency_ms: float | None = None
    budget_ms: float | None = None
    error: str | None = None
    skipped: str | None = None  # not requested, and why (an auto-stopped app is not woken)

    @property
    def status_ok(self) -> bool | None:
        """The status matched; None when there was no answer."""
        return None if self.status is None else self.status == self.expected_status

    @property
    def within_budget(self) -> bool | None:
        """Latency within budget; None when there is no budget or no answer."""
        if self.budget_ms is None or self.latency_ms is None:
            return None
        return self.latency_ms <= self.budget_ms

    @property
    def ok(self) -> bool | None:
        """Status matched and (when a budget is set) latency within it; None = could not check."""
        if self.status is None:
            return None
        return bool(self.status_ok) and self.within_budget is not False

    def describe(self) -> str:
        """A phrase for reports: "/health answered 503 (expected 200) in 120 ms"."""
        if self.skipped:
            return f"{self.url}: not requested ({self.skipped})"
        if self.status is None:
            return f"{self.url}: no answer ({self.error})"
        text = f"{self.url} answered {self.status}"
        if self.status != self.expected_status:
            text += f" (expected {self.expected_status})"
        if self.latency_ms is not None:
            text += f" in {self.latency_ms:.0f} ms"
            if self.within_budget is False:
                text += f" (budget {self.budget_ms:.0f} ms)"
        return text


async def probe(
    client: httpx.AsyncClient,
    url: str,
    *,
    expected_status: int = 200,
    budget_ms: float | None = None,
    timeout: float = 10.0,
    redactor: Redactor | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProbeResult:
    """GET `url` once without following redirects (a 302 is checked as a 302), with
    `headers` (a dependency's key: never part of the result)."""
    redactor = redactor or default_redactor()
    started = time.perf_counter()
    try:
        response = await client.get(
            url, follow_redirects=False, timeout=timeout, headers=dict(headers or {})
        )
    except httpx.TimeoutException:
        return ProbeResult(
            url=url,
            expected_status=expected_status,
            budget_ms=budget_ms,
            error=f"timed out after {timeout:g} s",
        )
    except httpx.HTTPError as exc:
        return ProbeResult(
            url=url,
            expected_status=expected_status,
            budget_ms=budget_ms,
            error=redactor.redact(f"{type(exc).__name__}: {exc}"),
        )
    latency_ms = (time.perf_counter() - started) * 1000.0
    return ProbeResult(
        url=url,
        expected_status=expected_status,
        status=response.status_code,
        latency_ms=round(latency_ms, 1),
        budget_ms=budget_ms,
    )


def not_woken(spec: AppSpec, machines: list[Machine] | str | None) -> str | None:
    """Why `spec`'s health endpoint is not requested now (rules in the module docstring), or
    None to request it."""
    if spec.probe_when_stopped or not isinstance(machines, list) or not machines:
        return None
    if any(m.state not in ASLEEP_STATES for m in machines):
        return None
    wakes = any(
        s.autostart is not False for m in machines for s in (m.config.services if m.config else [])
    )
    if not wakes:
        return None
    return (
        f"auto-stopped: {len(machines)} machine(s) stopped, a request would start one "
        "(inventory probe_when_stopped: false)"
    )


def skipped(url: str, reason: str, *, budget_ms: float | None = None) -> ProbeResult:
    """The result of a check deliberately not made."""
    return ProbeResult(url=url, expected_status=200, budget_ms=budget_ms, skipped=reason)
