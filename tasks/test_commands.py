"""The deploy's tests (runbook: `npm run test:unit`, `npm run test:e2e`), output in the run log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from hotdash_ops.deploys.test_commands import CommandResult, run_commands, summary
from tasks.checks import verdict


@task(name="run-tests", cache_policy=NO_CACHE)
async def run_tests(
    checkout: str, commands: list[list[str]], timeout_seconds: float = 1800.0
) -> list[CommandResult] | State:
    """Runbook Run tests (`npm run test:unit`, `npm run test:e2e`): run the configured commands
    in the checkout, in order, each line of their output
    logged as it comes; stops at the first failure. Never retried (tests are the verdict). A
    failure ends the task run Failed with the results (tasks.checks: read them with `checked`)."""
    logger = get_run_logger()

    def on_line(command: str, line: str) -> None:
        logger.info("[%s] %s", command, line)

    logger.info("running %d test command(s) in %s", len(commands), checkout)
    results = await asyncio.to_thread(
        run_commands, commands, cwd=Path(checkout), timeout=timeout_seconds, on_line=on_line
    )
    for result in results:
        (logger.info if result.ok else logger.error)("%s", result.describe())
    logger.info("%s", summary(results))
    return verdict(results, None if all(r.ok for r in results) else summary(results))
