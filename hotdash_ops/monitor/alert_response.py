"""What to do about each alert: the runbook's Alert Response steps and the flows that act.

Steps are the runbook's (Monitoring & Alerts / Alert Response) word for word where it has
them (CPU high, memory high, response time slow, health check failure); 5xx ratio, machines,
dependencies and "no data" have no runbook section, so their steps come from Incident
Response, Manual Health Checks ("Database") and Quick Reference. `flows` names the
deployments an on-call engineer runs from the Prefect UI.
"""

from __future__ import annotations

from pydantic import BaseModel

from hotdash_ops.monitor.alert_rules import RuleName


class AlertResponse(BaseModel):
    """The title of an alert, the runbook steps, and the flows that act on it."""

    title: str
    steps: list[str]
    flows: list[str]


RESPONSES: dict[RuleName, AlertResponse] = {
    RuleName.CPU: AlertResponse(
        title="CPU high",
        steps=[
            "Check logs for errors (`fly logs --app <app>`)",
            "Review traffic patterns",
            "Scale up if sustained",
            "Investigate performance issues",
        ],
        flows=["scale-app", "incident-response"],
    ),
    RuleName.MEMORY: AlertResponse(
        title="Memory high",
        steps=[
            "Check for memory leaks",
            "Review connection pooling",
            "Restart if necessary (`fly apps restart <app>`)",
            "Scale up if sustained",
        ],
        flows=["incident-response", "scale-app"],
    ),
    RuleName.RESPONSE_TIME: AlertResponse(
        title="Response time slow",
        steps=[
            "Check database query performance",
            "Review N+1 queries",
            "Check external API latency",
            "Consider caching",
        ],
        flows=["scale-app", "incident-response"],
    ),
    RuleName.HEALTH: AlertResponse(
        title="Health check failure",
        steps=[
            "Immediate investigation",
            "Check application logs (`fly logs --app <app>`)",
            "Verify dependencies (Supabase, Shopify)",
            "Rollback if deployment-related",
        ],
        flows=["incident-response", "rollback"],
    ),
    RuleName.ERROR_RATE: AlertResponse(
        title="5xx error ratio high",
        steps=[
            "Check application logs for the failing requests (`fly logs --app <app>`)",
            "Verify dependencies (Supabase, Shopify)",
            "Rollback if deployment-related",
            "If traffic spike, scale up",
        ],
        flows=["incident-response", "rollback", "scale-app"],
    ),
    RuleName.DEPENDENCY: AlertResponse(
        title="Dependency down",
        steps=[
            "Verify dependencies (Supabase, Shopify): the service's own status page",
            "A 401 or 403 means its key was refused: check the key the inventory names",
            "Database: check the Supabase project and its RLS policies "
            "(https://supabase.com/dashboard)",
            "The apps that use it are affected; a rollback or restart of them will not help",
        ],
        flows=["manual-health-check", "incident-response"],
    ),
    RuleName.MACHINES: AlertResponse(
        title="Machines not running or checks failing",
        steps=[
            "Check service status (`fly status --app <app>`)",
            "Check logs for crashes (`fly logs --app <app>`)",
            "Restart if a machine is stuck (`fly apps restart <app>`)",
            "Scale the machine count back up if machines are missing",
            "If a background service stops when idle on purpose, check its auto-stop settings",
        ],
        flows=["incident-response", "scale-app", "enable-auto-stop"],
    ),
    RuleName.ERROR_BUDGET: AlertResponse(
        title="Error budget burning",
        steps=[
            "The app is spending its SLO's error budget fast (SRE workbook burn-rate rules): "
            "users are affected now",
            "Check what changed: the latest release (`fly releases --app <app>`) and the logs",
            "Rollback if deployment-related",
            "While the budget is spent, deploy-production lets only critical fixes through",
        ],
        flows=["incident-response", "rollback"],
    ),
}

NO_DATA = AlertResponse(
    title="No data",
    steps=[
        "The monitor could not measure this: it is NOT known to be healthy",
        "Check Fly.io's status page and that the API token is valid",
        "Check the app by hand (`fly status --app <app>`, `fly logs --app <app>`)",
        "Run the manual health check for the app to see what is readable",
    ],
    flows=["manual-health-check", "daily-health-check"],
)


def response_for(rule: RuleName, *, no_data: bool = False) -> AlertResponse:
    """The response to an alert of `rule`; "no data" has its own steps."""
    return NO_DATA if no_data else RESPONSES[rule]


def title_for(rule: RuleName) -> str:
    return RESPONSES[rule].title
