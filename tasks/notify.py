"""Notifications through Prefect notification blocks (Slack webhook or a custom webhook).

Blocks are found by name, `hotdash-alerts` by default (`HOTDASH_NOTIFY_BLOCK`, comma-separated
for several). `make demo` creates one from `ALERT_WEBHOOK_URL`. Escalations (an incident past its
response target) go to `hotdash-escalation` (`HOTDASH_ESCALATION_BLOCK`; `make demo` creates it
from `ESCALATION_WEBHOOK_URL`), see `tasks.announce.escalate`. Every notification is also
appended to `<state>/notifications.jsonl` before delivery, so a message that could not be
delivered is still on record, and the caller learns whether it went out.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook
from prefect.cache_policies import NO_CACHE

from hotdash_ops.redaction import default_redactor
from tasks import fly_access

DEFAULT_BLOCK = "hotdash-alerts"
ESCALATION_BLOCK = "hotdash-escalation"
BLOCK_TYPES = ("custom-webhook", "slack-webhook")


def block_names(env: str = "HOTDASH_NOTIFY_BLOCK", default: str = DEFAULT_BLOCK) -> list[str]:
    raw = os.environ.get(env, default)
    return [n.strip() for n in raw.split(",") if n.strip()]


def escalation_block_names() -> list[str]:
    return block_names("HOTDASH_ESCALATION_BLOCK", ESCALATION_BLOCK)


def save_webhook_block(
    url: str | None = None, name: str = DEFAULT_BLOCK, env: str = "ALERT_WEBHOOK_URL"
) -> str:
    """Create (or replace) the notification block `name` from `url`, else from `$env`
    (ALERT_WEBHOOK_URL; ESCALATION_WEBHOOK_URL for the escalation block)."""
    url = url or os.environ[env]
    block: Block
    if url.startswith("https://hooks.slack.com/"):
        block = SlackWebhook(url=url)  # type: ignore[arg-type]
    else:
        block = CustomWebhookNotificationBlock(
            name=name,
            url=url,
            json_data={"subject": "{{subject}}", "body": "{{body}}", "source": "hotdash-ops"},
        )
    block.save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]
    return name


async def _load_blocks(names: list[str]) -> list[Block]:
    blocks: list[Block] = []
    for name in names:
        for block_type in BLOCK_TYPES:
            try:
                blocks.append(await Block.aload(f"{block_type}/{name}"))
            except (ValueError, KeyError):
                continue
    return blocks


def _record(subject: str, body: str, delivered: list[str], failed: list[str]) -> None:
    path = fly_access.settings().hotdash_state_dir / "notifications.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "ts": datetime.now(UTC).isoformat(),
        "subject": subject,
        "body": body,
        "delivered": delivered,
        "failed": failed,
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


@task(name="notify", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
async def notify(subject: str, body: str, blocks_named: list[str] | None = None) -> bool:
    """Send to every configured block (`blocks_named`, default the alert blocks); True when at
    least one delivered and none failed.

    Retried (twice) as a whole only when a delivery raised; secrets are removed first.
    """
    logger = get_run_logger()
    redact = default_redactor().redact
    subject, body = redact(subject), redact(body)
    names = blocks_named if blocks_named is not None else block_names()
    blocks = await _load_blocks(names)
    delivered: list[str] = []
    failed: list[str] = []
    for block in blocks:
        label = f"{block.get_block_type_slug()}/{block._block_document_name}"
        try:
            await block.notify(body, subject=subject)  # type: ignore[attr-defined]
            delivered.append(label)
        except Exception as exc:  # a notification target's failure must not hide the rest
            failed.append(f"{label}: {redact(str(exc))}")
    _record(subject, body, delivered, failed)
    if not blocks:
        logger.warning(
            "no notification block named %s; message kept in the state folder only",
            ", ".join(names),
        )
        return False
    if failed:
        logger.error("notification not delivered to %s", "; ".join(failed))
        raise RuntimeError(f"notification failed for {len(failed)} target(s)")
    logger.info("notified %s: %s", ", ".join(delivered), subject)
    return True
