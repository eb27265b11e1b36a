"""How a flow's parameters look in the Prefect UI's run form, and what a run accepts.

Prefect builds a deployment's form from the JSON schema of its flow's parameters, made when
`prefect deploy` loads the flow (`parameter_schema` in prefect/utilities/callables.py), and
the server checks a run's parameters against it; the run checks them again with the flow's
own types (pydantic) before its body starts, and a refusal there fails the run with the
message, without a traceback (prefect/flow_engine.py, "Validation of flow parameters
failed"). So:

* `InventoryApp`: a Fly app name that must be one of the inventory's apps. Its schema lists
  them (`enum`, read from the inventory when the schema is made): the form shows a dropdown.
  A run checks the name against the inventory it runs with and refuses another with the
  list of known apps, before anything happens. After adding an app to the inventory,
  register the deployments again (`make demo` and register.sh do) for the dropdown to show it.
* `AllOrInventoryApp`: the same, or `ALL_APPS` (the default of the checks that look at every
  app): the flow gets None for it.
* `EveryOrInventoryApp`: left empty (not given: None), `*` (every app, said explicitly) or
  an inventory app; `EveryOrInventoryTarget` also offers the inventory's outside services.
* `optional(T)`: text (or a number) that may be left empty: the form shows a plain text box
  whose empty value means "not given" (None in the flow); `T | None` would show a type switch
  first. `optional_choice(E)`: a list of E's values with an empty first entry.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from hotdash_ops.inventory import Inventory, load_inventory
from hotdash_ops.settings import Settings
from hotdash_ops.validation import EVERY_APP, app_name

ALL_APPS = "all"
DIGITS = "^[0-9]*$"  # a number field's box: digits or nothing


_read: dict[tuple[str, int, int], Inventory] = {}


def _inventory() -> Inventory:
    """The inventory, parsed again only when its file changed: a form's values are checked
    one by one, and parsing the YAML for each made the checks twenty times slower."""
    path = Settings().hotdash_inventory
    try:
        stat = path.stat()
    except OSError:
        return load_inventory(path)  # its error names the file and why
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _read:
        _read.clear()
        _read[key] = load_inventory(path)
    return _read[key]


def inventory_apps(*, dependencies: bool = False) -> list[str]:
    """The app names of the inventory this process uses (`HOTDASH_INVENTORY`), and with
    `dependencies` its outside services' names (Supabase, ...)."""
    inventory = _inventory()
    names = [a.name for a in inventory.apps]
    return names + [d.name for d in inventory.dependencies] if dependencies else names


def known_app(value: str, field: str = "app", *, dependencies: bool = False) -> str:
    """`value` when the inventory has an app (or, with `dependencies`, an outside service) of
    that name; ValueError naming the field and the known names otherwise (the inventory's
    own refusal: `Inventory.app`)."""
    if not dependencies:
        try:
            _inventory().app(value)
        except KeyError as exc:
            raise ValueError(f"{field}: {exc.args[0]}") from None
        return value
    known = inventory_apps(dependencies=True)
    if value not in known:
        raise ValueError(
            f"{field}: {value!r} is not an app or dependency of the inventory "
            f"(known: {', '.join(known)})"
        )
    return value


def _known(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    field = info.field_name or "app"
    return known_app(app_name(value, field), field)


def _known_or_every(value: str | None, info: ValidationInfo) -> str | None:
    return value if value == EVERY_APP else _known(value, info)


def _target_or_every(value: str | None, info: ValidationInfo) -> str | None:
    if value is None or value == EVERY_APP:
        return value
    field = info.field_name or "app"
    return known_app(app_name(value, field), field, dependencies=True)


class _EnumOfInventoryApps:
    """The schema's `enum`: the inventory's apps when the schema is made (deploy time)."""

    def __init__(self, *extra: str, dependencies: bool = False) -> None:
        self.extra = list(extra)
        self.dependencies = dependencies

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["enum"] = [*self.extra, *inventory_apps(dependencies=self.dependencies)]
        return schema


def _all_is_none(value: Any) -> Any:
    return None if value == ALL_APPS else value


InventoryApp = Annotated[str, AfterValidator(_known), _EnumOfInventoryApps()]
AllOrInventoryApp = Annotated[
    str | None,
    BeforeValidator(_all_is_none),
    AfterValidator(_known),
    WithJsonSchema({"type": "string"}),
    _EnumOfInventoryApps(ALL_APPS),
    Field(validate_default=True),
]


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# Left empty (None: not given), `*` (every app, said explicitly) or an inventory app.
EveryOrInventoryApp = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(_known_or_every),
    WithJsonSchema({"type": "string"}),
    _EnumOfInventoryApps("", EVERY_APP),
    Field(validate_default=True),
]

# The same, where an outside service (a dependency of the inventory) may be chosen too.
EveryOrInventoryTarget = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(_target_or_every),
    WithJsonSchema({"type": "string"}),
    _EnumOfInventoryApps("", EVERY_APP, dependencies=True),
    Field(validate_default=True),
]


def optional(kind: Any, **schema: Any) -> Any:
    """`kind` (an Annotated str or int type), or nothing: the form shows a plain text box
    (empty by default), and an empty or blank value reaches the flow as None. Use with
    default ""."""
    return Annotated[
        kind | None,
        BeforeValidator(_blank_is_none),
        WithJsonSchema({"type": "string", **schema}),
        Field(validate_default=True),
    ]


def optional_choice(choices: Any) -> Any:
    """One of `choices` (a StrEnum or a Literal of strings: a list in the form, its first
    entry empty), or nothing: empty reaches the flow as None. Use with default ""."""
    if isinstance(choices, type) and issubclass(choices, StrEnum):
        values = [c.value for c in choices]
    else:
        values = [str(v) for v in get_args(choices)]
    return optional(choices, enum=["", *values])
