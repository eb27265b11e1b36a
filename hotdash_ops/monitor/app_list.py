"""Quick Reference: list all apps (`fly apps list`), pure: every app of the organisation with
its status, machines and regions, set against the inventory: which apps Fly has that the
inventory does not list (nobody monitors, deploys or prices them), and which the inventory
lists that Fly does not have (a typo, a deleted app: their checks all fail).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from hotdash_ops.inventory import Inventory
from hotdash_ops.models import App, Machine
from hotdash_ops.wording import counted


class AppRow(BaseModel):
    """One app as the list shows it."""

    app: str
    status: str  # Fly's app status, or "not on Fly"
    machines: str  # "2 started, 1 stopped", "none", or why it could not be read
    regions: str
    inventory: str  # "listed (production, web)", "NOT IN INVENTORY", "MISSING ON FLY"

    @property
    def extra(self) -> bool:
        return self.inventory == "NOT IN INVENTORY"

    @property
    def missing(self) -> bool:
        return self.inventory == "MISSING ON FLY"


def _counts(values: Sequence[str]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(Counter(values).items())) or "none"


def app_rows(
    apps: Sequence[App], machines: Mapping[str, list[Machine] | str], inventory: Inventory
) -> list[AppRow]:
    """Fly's apps (sorted by name), then the inventory's apps Fly does not have."""
    listed = {a.name: a for a in inventory.apps}
    rows: list[AppRow] = []
    for app in sorted(apps, key=lambda a: a.name):
        ms = machines.get(app.name)
        if isinstance(ms, list):
            states, regions = _counts([m.state for m in ms]), _counts([m.region for m in ms])
        else:
            states, regions = f"could not read ({ms or 'not read'})", "unknown"
        spec = listed.get(app.name)
        where = (
            ", ".join(x for x in (inventory.environment_of(app.name), spec.role) if x)
            if spec
            else ""
        )
        rows.append(
            AppRow(
                app=app.name,
                status=app.status or "unknown",
                machines=states,
                regions=regions,
                inventory=f"listed ({where})" if spec else "NOT IN INVENTORY",
            )
        )
    on_fly = {a.name for a in apps}
    rows += [
        AppRow(
            app=name,
            status="not on Fly",
            machines="none",
            regions="none",
            inventory="MISSING ON FLY",
        )  # fmt: skip
        for name in sorted(set(listed) - on_fly)
    ]
    return rows


def summary(org: str, rows: Sequence[AppRow]) -> str:
    """`7 apps in personal: 5 in the inventory; not in it: a, b; missing on Fly: none`."""
    on_fly = [r for r in rows if not r.missing]
    extra = [r.app for r in rows if r.extra]
    missing = [r.app for r in rows if r.missing]
    return (
        f"{counted(len(on_fly), 'app')} in {org}: {len(on_fly) - len(extra)} in the inventory; "
        f"not in it: {', '.join(extra) or 'none'}; missing on Fly: {', '.join(missing) or 'none'}"
    )
