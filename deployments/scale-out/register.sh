#!/usr/bin/env bash
# Register hotdash-ops with the Prefect server, as `make demo` does (deployments/stack.py):
# after checking that prefect.yaml's schedules use the inventory's timezone, the process work
# pool `hotdash`, every deployment of prefect.yaml, the `hotdash-alerts` notification block
# when ALERT_WEBHOOK_URL is set (`hotdash-escalation` when ESCALATION_WEBHOOK_URL is), and the
# "monitor is silent" automation.
# Run as the hotdash user after installing or upgrading the checkout; safe to repeat
# (deployments are updated in place, the block and the automation replaced).
#   deployments/scale-out/register.sh [/etc/hotdash-ops/worker.env]
set -euo pipefail
env_file=${1:-/etc/hotdash-ops/worker.env}
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
cd "$HOTDASH_HOME"
# One timezone for the project: prefect.yaml's schedules must use the inventory's.
.venv/bin/python -c "from deployments.stack import check_schedule_timezone as c; from pathlib import Path; import os; c(Path(os.environ.get('HOTDASH_INVENTORY') or 'deployments/inventory.yaml'))"
.venv/bin/prefect --no-prompt work-pool create hotdash --type process --overwrite
.venv/bin/prefect --no-prompt deploy --all
if [ -n "${ALERT_WEBHOOK_URL:-}" ]; then
  .venv/bin/python -c "from tasks.notify import save_webhook_block; save_webhook_block()"
fi
if [ -n "${ESCALATION_WEBHOOK_URL:-}" ]; then
  .venv/bin/python -c "from tasks.notify import ESCALATION_BLOCK, save_webhook_block; save_webhook_block(name=ESCALATION_BLOCK, env='ESCALATION_WEBHOOK_URL')"
fi
.venv/bin/python -c "from deployments.automations import create_automations as c; c()"
