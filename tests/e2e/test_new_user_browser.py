"""A new on-call engineer's first hour in the Prefect UI, in Debian's Chromium at 1440 px,
against `make demo`'s stack (tests/e2e/demo_stack.py), asserting what a person sees:

1. logging in with the README's words: the whole `hotdash:<secret>` line (the password alone
   is refused);
2. the deployments list says what each deployment is (its first tag: by-hand, scheduled,
   automatic; the approval deadline timer is automatic); a deployment's page its description;
3. deploy-staging started from its form (only the requester typed), run to completion;
4. deploy-production started from its form (requester, reason, checklist), waiting for the
   manager: the approval dialog's summary (image, tag, commit, requester, reason, checklist,
   smoke, parity, window, deadline) is readable without scrolling sideways; the run's log says
   what to do, and nothing is logged as an ERROR while it waits;
5. a tired mistake: the requester approves her own deploy; within seconds the run's header
   reads "Refused: ask again", and the next form starts with why;
6. the manager approves, the reliability engineer rejects with a reason: the run ends Failed
   saying so, and nothing reaches production;
7. the morning report (an app answering 503): its first screen shows the verdict and what is
   wrong, and the run's task runs show the failed check.

Screenshots of each step: test-artifacts/screenshots/new-user/ (kept by CI, .ci/run).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType

from tests.e2e.browser import (
    Person,
    click_until_taken,
    field,
    fresh_folder,
    no_horizontal_scroll,
    submit,
)
from tests.e2e.demo_stack import E2EStack, stack_module
from tests.e2e.prefect_api import is_terminal, stack_client, wait_until, waiting_at

pytestmark = pytest.mark.e2e

PROD = "hotdash-production"
CHECKLIST = "https://example.com/go-live/october"
REFUSED = "Refused: ask again"
CHATWOOT = "hotdash-chatwoot"


def start_from_form(
    person: Person, client: SyncPrefectClient, deployment: str, fields: dict[str, str] | None
) -> UUID:
    """From the deployments list: the deployment, Run > Custom run, fill `fields`, Submit
    (None: Run > Quick run); the id of the run the form created."""
    page = person.page
    flow_deployment = client.read_deployment_by_name(f"{deployment}/{deployment}")
    before = {r.id for r in runs_of(client, flow_deployment.id)}
    page.get_by_role("link", name="Deployments", exact=True).first.click()
    page.get_by_role("link", name=deployment, exact=True).first.click()
    run_menu = page.get_by_role("button", name="Run", exact=True)
    if fields is None:

        def quick_run() -> None:
            run_menu.click()
            page.get_by_role("menuitem", name="Quick run").click()

        click_until_taken(person, quick_run, "/create_flow_run")
        return _new_run(page, client, flow_deployment.id, before)
    run_menu.click()
    page.get_by_role("menuitem", name="Custom run").click()
    expect(page.get_by_role("heading", name="Parameters")).to_be_visible()
    # Plain boxes, no "str | None" switch to click first; the essentials come first (right
    # under the run's name), in order.
    expect(page.get_by_role("tab", name="None", exact=True)).to_have_count(0)
    tops = [_top(page.get_by_role("textbox", name=field(n))) for n in fields]
    every = sorted(_top(box) for box in page.get_by_role("main").get_by_role("textbox").all())
    assert tops == every[1 : 1 + len(fields)], (tops, every)
    for name, value in fields.items():
        page.get_by_role("textbox", name=field(name)).fill(value)
    press_submit = page.get_by_role("button", name="Submit").click
    click_until_taken(person, press_submit, "/create_flow_run")
    return _new_run(page, client, flow_deployment.id, before)


def _new_run(page: Page, client: SyncPrefectClient, deployment: UUID, before: set[UUID]) -> UUID:
    # The server has the run once the UI says so (an earlier toast may still be showing).
    expect(page.get_by_text(re.compile("scheduled to start now")).first).to_be_visible()
    deadline = time.monotonic() + 30
    while not (new := [r.id for r in runs_of(client, deployment) if r.id not in before]):
        assert time.monotonic() < deadline, "the form created no run"
        time.sleep(0.5)
    assert len(new) == 1, new
    return new[0]


def runs_of(client: SyncPrefectClient, deployment: UUID) -> list[FlowRun]:
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
    )


def _top(box: Locator) -> float:
    where = box.bounding_box()
    assert where is not None
    return where["y"]


def open_resume_form(page: Page, ui: str, run: UUID) -> Locator:
    """The run's page, its menu, Resume: the form (a dialog)."""
    page.goto(f"{ui}/runs/flow-run/{run}")
    page.get_by_role("button", name="Open menu").first.click()
    page.get_by_role("menuitem", name="Resume").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Resume Flow Run")).to_be_visible()
    return dialog


def header_state(page: Page, name: str) -> Locator:
    """The state badge in the run page's header."""
    return page.get_by_role("main").get_by_text(name, exact=True).first


def run_logs(
    client: SyncPrefectClient, run: UUID, expect: str, timeout: float = 30
) -> list[tuple[int, str]]:
    """(level, message) of the run's logs, once one starts with `expect` (bounded): a flow-run
    process sends its logs in batches."""
    deadline = time.monotonic() + timeout
    while True:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run])))
        found = [(log.level, log.message) for log in logs]
        if any(m.startswith(expect) for _, m in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_new_user_logs_in_starts_deploys_from_forms_and_reads_the_approval(
    chromium: Browser, e2e: tuple[E2EStack, Path], tmp_path: Path
) -> None:
    started = time.monotonic()
    shared, state = e2e
    config = shared.config
    # deploy-staging builds and tests a commit of the demo's repository (this test's own).
    shared.use_worker(
        HOTDASH_STATE_DIR=str(state),
        HOTDASH_INVENTORY=str(stack_module().INVENTORY),
        HOTDASH_REPOSITORY=str(stack_module().demo_repository(tmp_path)),
    )
    folder = fresh_folder("new-user")
    people = [Person(chromium, name, folder, width=1440, height=900) for name in ("Alice", "Carol", "Dave")]  # fmt: skip
    alice, carol, dave = people
    auth = (config.state_dir / "prefect-auth-string").read_text().strip()
    try:
        with stack_client(config.api_url, config.auth_string()) as client:
            # 1. Login as the README says: the whole line. The password alone is refused.
            alice.page.goto(config.ui_url)
            login = alice.page.get_by_placeholder("admin:pass")
            login.fill(auth.split(":", 1)[1])
            alice.page.get_by_role("button", name="Login").click()
            expect(alice.page.get_by_text("Invalid credentials")).to_be_visible()
            alice.shot("1-login-password-alone-refused")
            login.fill(auth)
            alice.page.get_by_role("button", name="Login").click()
            expect(alice.page.get_by_role("button", name="Logout")).to_be_visible()
            ui = alice.page.url.split("/dashboard")[0]  # the UI a person lands in

            # 2. The deployments list says what each is; a deployment's page its description.
            alice.page.get_by_role("link", name="Deployments", exact=True).first.click()
            for name, kind in (
                ("deploy-staging", "by-hand"),
                ("deploy-production", "by-hand"),
                ("daily-health-check", "scheduled"),
                ("deploy-production-approval-deadline", "automatic"),
            ):
                row = alice.page.get_by_role("row").filter(
                    has=alice.page.get_by_role("link", name=name, exact=True)
                )
                expect(row).to_contain_text(kind)
            alice.shot("2-deployments-list")
            alice.page.get_by_role("link", name="deploy-staging", exact=True).first.click()
            alice.page.get_by_role("tab", name="Description").click()
            expect(
                alice.page.get_by_role("tabpanel", name="Description").get_by_text(
                    re.compile(r"Standard Deployment \(Staging\)")
                )
            ).to_be_visible()

            # 3. deploy-staging from its form: only the requester typed.
            staging = start_from_form(alice, client, "deploy-staging", {"requested_by": "Alice"})
            alice.shot("3-deploy-staging-submitted")
            alice.step_away()
            (done,) = wait_until(
                client, [staging], is_terminal, timeout=300, what="deploy-staging",
                check=shared.stack.check_children,
            )  # fmt: skip
            assert done.state is not None and done.state.type == StateType.COMPLETED, done.state

            # 4. deploy-production from its form: the essentials only.
            alice.page.goto(f"{ui}/deployments")
            run = start_from_form(
                alice,
                client,
                "deploy-production",
                {
                    "requested_by": "Alice",
                    "reason": "Ship the October dashboard",
                    "checklist_url": CHECKLIST,
                },
            )
            alice.shot("4-deploy-production-submitted")
            alice.step_away()
            wait_until(
                client, [run], waiting_at(client, "manager-approval"), timeout=180,
                what="manager gate", check=shared.stack.check_children,
            )  # fmt: skip
            print(f"the manager gate waits after {time.monotonic() - started:.1f} s")

            # The approval dialog at 1440 px: the summary first, nothing to scroll sideways.
            dialog = open_resume_form(alice.page, ui, run)
            expect(
                dialog.get_by_role("heading", name=re.compile("manager approval"))
            ).to_be_visible()
            summary = dialog.get_by_role("list").first
            for item in (
                "image", "release tag", "commit", "requested by", "reason", "checklist",
                "staging smoke", "parity", "window", "decide before",
            ):  # fmt: skip
                expect(summary.get_by_role("listitem").filter(has_text=item).first).to_be_visible()
            expect(summary).to_contain_text("tests passed")  # the commit step 3 tested
            expect(summary).to_contain_text("Ship the October dashboard")
            expect(summary).to_contain_text(
                re.compile(r"decide before \d{4}-\d\d-\d\d \d\d:\d\d P[SD]T")
            )
            expect(dialog.get_by_text(re.compile("approve off"))).to_be_visible()
            no_horizontal_scroll(dialog)
            alice.shot("5-approval-dialog", full_page=False)
            # The run's log says what to do, and waiting is not an ERROR.
            waiting = "Waiting for manager approval (manager-approval): open this run"
            logs = run_logs(client, run, expect=waiting)
            assert any(m.startswith(waiting) for _, m in logs), logs
            assert [m for level, m in logs if level >= 40] == []

            # 5. Alice approves her own deploy: refused, and the header says so within seconds.
            dialog.get_by_role("textbox", name=field("approver")).fill("Alice")
            dialog.get_by_role("switch").click()
            answered = time.monotonic()
            submit(alice, dialog, "Resume")
            expect(header_state(alice.page, REFUSED)).to_be_visible(timeout=120_000)
            print(
                f"'{REFUSED}' in the run's header {time.monotonic() - answered:.1f} s after Resume"
            )
            alice.shot("6-refused-in-the-header", full_page=False)
            (again,) = wait_until(
                client,
                [run],
                waiting_at(client, "manager-approval-2"),
                timeout=30,
                what="ask again",
            )
            assert again.state is not None and again.state.name == REFUSED
            assert "Alice requested this deploy and may not approve it" in str(again.state.message)
            alice.step_away()

            # 6. Carol approves; Dave rejects, saying why.
            carol.log_in(config.ui_url, auth)
            form = open_resume_form(carol.page, ui, run)
            expect(form.get_by_text(re.compile("Your answer was refused"))).to_be_visible()
            form.get_by_role("textbox", name=field("approver")).fill("Carol")
            form.get_by_role("switch").click()
            form.get_by_role("textbox", name=field("comment")).fill("Checklist done.")
            submit(carol, form, "Resume")
            carol.step_away()
            wait_until(
                client, [run], waiting_at(client, "reliability-approval"), timeout=120,
                what="reliability gate", check=shared.stack.check_children,
            )  # fmt: skip
            dave.log_in(config.ui_url, auth)
            form = open_resume_form(dave.page, ui, run)
            form.get_by_role("textbox", name=field("approver")).fill("Dave")
            form.get_by_role("textbox", name=field("comment")).fill("Error budget spent.")
            dave.shot("7-reliability-rejects", full_page=False)
            submit(dave, form, "Resume")
            (ended,) = wait_until(
                client, [run], is_terminal, timeout=120, what="the end",
                check=shared.stack.check_children,
            )  # fmt: skip
            assert ended.state is not None and ended.state.type == StateType.FAILED
            assert ended.state.message == (
                "rejected by Dave at reliability-approval (Error budget spent.)."
            )
            expect(header_state(dave.page, "Failed")).to_be_visible()
            dave.shot("8-rejected", full_page=False)
            dave.step_away()

            # 7. The morning report: its first screen says the verdict and what is wrong, and
            # the run's task runs say which check failed.
            shared.flysim.patch_app(CHATWOOT, endpoints={"/health": {"status": 503}})
            alice.page.goto(f"{ui}/deployments")
            morning = start_from_form(alice, client, "daily-health-check", None)
            alice.step_away()
            wait_until(
                client, [morning], is_terminal, timeout=180, what="morning check",
                check=shared.stack.check_children,
            )  # fmt: skip
            alice.page.goto(f"{ui}/runs/flow-run/{morning}")
            alice.page.get_by_role("tab", name="Task Runs").click()
            expect(alice.page.get_by_text("1 Failed check")).to_be_visible()
            alice.page.get_by_role("tab", name="Artifacts").click()
            alice.page.get_by_role("link").filter(
                has=alice.page.get_by_role("heading", name="daily-health-check")
            ).first.click()
            report = alice.page.get_by_role("tabpanel", name="Artifact")
            verdict = report.get_by_role("heading", name="Morning health check: FAILING")
            reason = report.get_by_role("row").filter(has_text="/health answered 503")
            for seen in (verdict, report.get_by_text(re.compile("^FAILING: ")), reason):
                expect(seen.first).to_be_in_viewport()  # the first screen, no scrolling
            expect(reason.first).to_contain_text(CHATWOOT)
            alice.shot("9-morning-report", full_page=False)
    except Exception:
        for person in people:
            try:
                person.shot("at-failure")
                (folder / f"{person.name.lower()}-at-failure.txt").write_text(
                    person.page.inner_text("body")
                )
            except Exception:  # a page that is gone has no picture
                pass
        raise
    finally:
        for person in people:
            person.close()

    flysim = httpx.get(f"{config.flysim_url}/_sim/state", timeout=10).json()
    assert [m for m in flysim["mutations"] if m["app"] == PROD] == []  # nothing reached it
    print(f"new-user browser test: {time.monotonic() - started:.1f} s")
