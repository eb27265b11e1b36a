"""A production deploy approved in the Prefect UI from Debian's Chromium, as approvers do it.

The stack is `make demo`'s (deployments/stack.py: flysim, Prefect server with an auth string,
worker). `deploy-production` is triggered through the API. Then two people, each in their own
browser session:

* Carol (manager) follows the link in the "awaiting manager approval" notification. The UI
  asks for the server's auth string first (its login form); the link opens the run page,
  she reads the image and release tag in the resume form, fills it in and submits.
* Dave (reliability) opens the UI as it starts (the default UI), logs in, opens the run,
  reads the form, fills it in and resumes.

The run must then complete and flysim's production must run the image the forms showed.
Screenshots of every form and page are kept in test-artifacts/screenshots/approval-browser/
(on success too; on failure also each page as it was at the failure).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from prefect.client.schemas.objects import StateType

from tests.e2e.browser import Person, fresh_folder, submit
from tests.e2e.demo_stack import DEPLOY_PRODUCTION, E2EStack
from tests.e2e.prefect_api import is_terminal, run_deployment, stack_client, wait_until, waiting_at

pytestmark = pytest.mark.e2e

PROD = "hotdash-production"


def approval_link(state_dir: Path, gate: str) -> str:
    """The run link of the newest "awaiting <gate> approval" notification."""
    lines = (state_dir / "notifications.jsonl").read_text().splitlines()
    for line in reversed(lines):
        message = json.loads(line)
        if f"awaiting {gate} approval" in message["subject"]:
            match = re.search(r"https?://\S+/runs/flow-run/[0-9a-f-]{36}", message["body"])
            assert match, message["body"]
            return match.group(0)
    raise AssertionError(f"no notification asks for {gate} approval: {lines[-3:]}")


def requested(state_dir: Path) -> dict[str, Any]:
    """What the run asked approval for (audit record approval.requested)."""
    for line in (state_dir / "audit.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["action"] == "approval.requested":
            return dict(record["detail"])
    raise AssertionError("no approval.requested in the audit log")


def check_form(dialog: Any, gate: str, image: str, tag: str) -> None:
    """The form says what is approved: gate, image (in full in the details), release tag,
    requester."""
    expect(dialog.get_by_role("heading", name=re.compile(f"{gate} approval"))).to_be_visible()
    name, digest = image.split("@")
    details = dialog.locator("pre").first
    expect(details).to_contain_text(name)
    expect(details).to_contain_text(digest.split(":", 1)[1])
    expect(dialog.get_by_text(tag, exact=True).first).to_be_visible()
    expect(dialog.get_by_role("listitem").filter(has_text="requested by")).to_contain_text("Alice")


def test_two_approvers_approve_a_production_deploy_in_the_prefect_ui(
    chromium: Browser, e2e: tuple[E2EStack, Path]
) -> None:
    folder = fresh_folder("approval-browser")
    started = time.monotonic()
    shared, state = e2e
    stack, config = shared.stack, shared.config
    auth = config.auth_string()
    before = stack_state(config)
    with stack_client(config.api_url, auth) as client:
        run = run_deployment(
            client,
            DEPLOY_PRODUCTION,
            {
                "requested_by": "Alice",
                "reason": "Ship the October dashboard",
                "checklist_url": "https://example.com/go-live/october",
                # The demo's staging image was not built by deploy-staging.
                "untested_image_reason": "end-to-end test of the approval UI",
                "watch_minutes": 0.05,
                "watch_interval_seconds": 1,
                "strategy": "rolling",  # not what this test is about (the canary's: test_deploy_production.py)
            },
        )
        wait_until(
            client,
            [run.id],
            waiting_at(client, "manager-approval"),
            timeout=120,
            what="gate 1",
            check=stack.check_children,
        )
        print(f"gate 1 waits after {time.monotonic() - started:.1f} s")
        asked = requested(state)
        image, tag = asked["image"], asked["release_tag"]
        assert image.startswith("registry.fly.io/hotdash-staging"), asked
        assert before["apps"][PROD]["current_image"] != image

        carol = Person(chromium, "Carol", folder)
        dave = Person(chromium, "Dave", folder)
        try:
            # Gate 1: Carol follows the notification's link after logging in.
            link = approval_link(state, "manager")
            assert link.endswith(f"/runs/flow-run/{run.id}")
            carol.log_in(config.ui_url, auth)
            carol.page.goto(link)
            carol.page.get_by_role("button", name="Resume").click()
            form = carol.page.get_by_role("dialog")
            expect(form.get_by_text("Resume Flow Run")).to_be_visible()
            check_form(form, "manager", image, tag)
            form.locator("textarea").nth(0).fill("Carol")
            form.get_by_role("switch").click()
            expect(form.get_by_role("switch")).to_have_attribute("aria-checked", "true")
            form.locator("textarea").nth(1).fill("Checklist done; staging is green.")
            carol.shot("manager-form")
            submit(carol, form, "Submit")
            carol.step_away()
            wait_until(
                client,
                [run.id],
                waiting_at(client, "reliability-approval"),
                timeout=120,
                what="gate 2",
                check=stack.check_children,
            )

            # Gate 2: Dave opens the UI as it starts, logs in, opens the run.
            dave.log_in(config.ui_url, auth)
            ui = dave.page.url.split("/dashboard")[0]  # the default UI's base
            dave.page.goto(f"{ui}/runs/flow-run/{run.id}")
            dave.page.get_by_role("button", name="Open menu").first.click()
            dave.page.get_by_role("menuitem", name="Resume").click()
            form = dave.page.get_by_role("dialog")
            expect(form.get_by_text("Resume Flow Run")).to_be_visible()
            check_form(form, "reliability", image, tag)
            form.get_by_label("Approver").fill("Dave")
            form.get_by_role("switch").click()
            expect(form.get_by_role("switch")).to_have_attribute("aria-checked", "true")
            form.get_by_label(re.compile("^Comment")).fill("Error budget is fine.")
            dave.shot("reliability-form")
            submit(dave, form, "Resume")
            dave.step_away()

            (done,) = wait_until(
                client,
                [run.id],
                is_terminal,
                timeout=120,
                what="deploy",
                check=stack.check_children,
            )
            assert done.state is not None
            assert done.state.type == StateType.COMPLETED, done.state.message
            dave.page.goto(f"{ui}/runs/flow-run/{run.id}")
            expect(dave.page.get_by_text("Completed").first).to_be_visible()
            dave.shot("completed")
        except Exception:
            for person in (carol, dave):
                try:
                    person.shot("at-failure")
                except Exception:  # a page that is gone has no picture
                    pass
            raise
        finally:
            carol.close()
            dave.close()

    after = stack_state(config)
    assert after["apps"][PROD]["current_image"] == image
    decisions = [
        json.loads(line)
        for line in (state / "audit.jsonl").read_text().splitlines()
        if json.loads(line)["action"] == "approval.approved"
    ]
    assert [(d["actor"], d["detail"]["gate"]) for d in decisions] == [
        ("Carol", "manager"),
        ("Dave", "reliability"),
    ]
    assert [d["detail"]["comment"] for d in decisions] == [
        "Checklist done; staging is green.",
        "Error budget is fine.",
    ]
    print(f"browser approval test: {time.monotonic() - started:.1f} s")


def stack_state(config: Any) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"{config.flysim_url}/_sim/state", timeout=10).json())
