"""Update status page (runbook: Incident Response / Communicate, and Production Deployment /
Post-Deployment), through a webhook.

The URL comes from `STATUS_PAGE_WEBHOOK_URL` (https, or http to localhost for local receivers);
unset means no status page: the task logs that and does nothing. The body is JSON, so a small
adapter (or the status page's own webhook intake) can map it:

* an incident: `{"incident", "component", "status", "severity", "message", "source"}` with
  `status` one of investigating | identified | monitoring | resolved (the usual status-page
  incident states);
* a production release: `{"event": "release", "component", "status": "operational",
  "release", "commit", "message", "source"}`.
"""

from __future__ import annotations

import os
from typing import Literal

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.redaction import default_redactor
from hotdash_ops.tls import tls_context
from hotdash_ops.validation import service_url

ENV_URL = "STATUS_PAGE_WEBHOOK_URL"
PageStatus = Literal["investigating", "identified", "monitoring", "resolved"]


def status_page_url() -> str | None:
    """The configured webhook URL, validated; None when unset."""
    raw = os.environ.get(ENV_URL, "").strip()
    return service_url(raw, ENV_URL) if raw else None


@task(name="update-status-page", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
async def update_status_page(
    *, incident: str, app: str, status: PageStatus, severity: str, message: str
) -> bool:
    """POST the incident's state to the status page webhook; False when none is configured.

    Retried: posting the same state twice leaves the page as it was.
    """
    body = {
        "incident": incident,
        "component": app,
        "status": status,
        "severity": severity,
        "message": default_redactor().redact(message),
        "source": "hotdash-ops",
    }
    return await _post(body, f"{app} is {status}")


@task(name="post-release-to-status-page", retries=2, retry_delay_seconds=2)
async def post_release(*, app: str, release_tag: str, commit: str | None, message: str) -> bool:
    """Production Deployment / Post-Deployment "Update status page": the new release of `app`
    is live and the app operational; False when no status page is configured.

    Retried: posting the same release twice leaves the page as it was.
    """
    body = {
        "event": "release",
        "component": app,
        "status": "operational",
        "release": release_tag,
        "commit": commit,
        "message": default_redactor().redact(message),
        "source": "hotdash-ops",
    }
    return await _post(body, f"{app} runs {release_tag}")


async def _post(body: dict[str, object], what: str) -> bool:
    logger = get_run_logger()
    url = status_page_url()
    if url is None:
        logger.info("status page: %s is not set; status page not updated", ENV_URL)
        return False
    async with httpx.AsyncClient(timeout=10.0, verify=tls_context()) as client:
        response = await client.post(url, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"status page webhook answered {response.status_code}")
    logger.info("status page: %s", what)
    return True
