"""Run-form parameter types (hotdash_ops.run_forms): the inventory's apps as a dropdown that
a run checks again, and optional text as a plain box whose empty value means "not given"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from hotdash_ops.run_forms import (
    ALL_APPS,
    AllOrInventoryApp,
    EveryOrInventoryApp,
    InventoryApp,
    optional,
    optional_choice,
)
from hotdash_ops.scaling import AutoStop
from hotdash_ops.validation import ImageRef
from tests.conftest import ROOT

# The shipped inventory's apps, in its order.
APPS = [
    a["name"] for a in yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())["apps"]
]


class Form(BaseModel):
    app: InventoryApp
    image: optional(ImageRef) = ""  # type: ignore[valid-type]
    which: AllOrInventoryApp = ALL_APPS
    target: EveryOrInventoryApp = ""
    auto_stop: optional_choice(AutoStop) = ""  # type: ignore[valid-type]
    count: optional(int) = ""  # type: ignore[valid-type]


@pytest.fixture(autouse=True)
def shipped_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTDASH_INVENTORY", str(ROOT / "deployments/inventory.yaml"))


def test_the_form_lists_the_inventorys_apps_and_plain_text_boxes() -> None:
    props = Form.model_json_schema()["properties"]
    assert props["app"] == {"enum": APPS, "title": "App", "type": "string"}
    assert props["which"] == {
        "default": "all", "enum": ["all", *APPS], "title": "Which", "type": "string"
    }  # fmt: skip
    assert props["image"] == {"default": "", "title": "Image", "type": "string"}  # no switch
    assert props["target"]["enum"] == ["", "*", *APPS]
    assert props["auto_stop"]["enum"] == ["", "off", "stop", "suspend"]
    assert props["count"] == {"default": "", "title": "Count", "type": "string"}


def test_empty_text_and_all_reach_the_flow_as_none() -> None:
    assert Form(app="hotdash-staging").model_dump() == {
        "app": "hotdash-staging", "image": None, "which": None, "target": None,
        "auto_stop": None, "count": None,
    }  # fmt: skip
    chosen = Form(app="hotdash-staging", target="*", auto_stop="stop", count="3")
    assert (chosen.target, chosen.auto_stop, chosen.count) == ("*", AutoStop.STOP, 3)
    form = Form(app="hotdash-staging", image="  ", which="hotdash-chatwoot")
    assert (form.image, form.which) == (None, "hotdash-chatwoot")
    assert Form(app="hotdash-staging", image="registry.fly.io/a:b").image == "registry.fly.io/a:b"


def test_an_unknown_app_is_refused_with_the_known_list() -> None:
    with pytest.raises(ValidationError) as refused:
        Form(app="hotdsh-staging")
    assert refused.value.errors()[0]["msg"] == (
        "Value error, app: app 'hotdsh-staging' is not in the inventory (known: "
        + ", ".join(APPS)
        + ")"
    )
    with pytest.raises(ValidationError, match="which: app 'nope' is not in the inventory"):
        Form(app="hotdash-staging", which="nope")
    with pytest.raises(ValidationError, match="app: 'Bad App' is not a Fly app name"):
        Form(app="Bad App")
    with pytest.raises(ValidationError, match="app: '\\*' is not a Fly app name"):
        Form(app="*")  # every app only where the form offers it
    with pytest.raises(ValidationError, match="target: app 'nope' is not in the inventory"):
        Form(app="hotdash-staging", target="nope")
    with pytest.raises(ValidationError, match="image: must not start with '-'"):
        Form(app="hotdash-staging", image="--x")


def test_the_run_checks_the_inventory_it_runs_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["apps"] = [a for a in data["apps"] if a["name"] != "hotdash-chatwoot"]
    data["dependencies"] = []
    for app in data["apps"]:
        app.pop("dependencies", None)
    smaller = tmp_path / "inventory.yaml"
    smaller.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOTDASH_INVENTORY", str(smaller))
    with pytest.raises(ValidationError, match="app 'hotdash-chatwoot' is not in the inventory"):
        Form(app="hotdash-chatwoot")
