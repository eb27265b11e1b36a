"""Prometheus HTTP API answers: `{"status", "data": {"resultType", "result"}}`."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from hotdash_ops.errors import FlyBadRequest


def _number(raw: Any) -> float:
    # Prometheus sends values as strings: "0.5", "NaN", "+Inf", "-Inf"; float() reads them all.
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


class PromSample(BaseModel):
    """One (timestamp, value) point; value may be NaN or infinite."""

    ts: float
    value: float


class PromSeries(BaseModel):
    """One labelled series with its samples (one sample for an instant vector)."""

    metric: dict[str, str] = Field(default_factory=dict)
    values: list[tuple[float, float]] = Field(default_factory=list)

    @property
    def samples(self) -> list[PromSample]:
        """The points as models."""
        return [PromSample(ts=t, value=v) for t, v in self.values]

    def finite_values(self) -> list[float]:
        """Values without NaN/Inf (what a mean can be taken of)."""
        return [v for _, v in self.values if math.isfinite(v)]


class PromResult(BaseModel):
    """A query's result: `vector`, `matrix`, `scalar` or `string`."""

    result_type: str
    series: list[PromSeries] = Field(default_factory=list)

    @classmethod
    def parse(cls, body: Any) -> PromResult:
        """Parse the API's JSON; `status: error` raises FlyBadRequest with Prometheus's text."""
        if not isinstance(body, dict):
            raise FlyBadRequest(f"prometheus: unexpected answer {str(body)[:200]!r}")
        if body.get("status") != "success":
            kind = body.get("errorType", "error")
            raise FlyBadRequest(f"prometheus {kind}: {body.get('error', 'unknown error')}")
        data = body.get("data") or {}
        rtype = str(data.get("resultType", ""))
        raw = data.get("result")
        series: list[PromSeries] = []
        if rtype in ("scalar", "string") and isinstance(raw, list) and len(raw) == 2:
            series.append(PromSeries(values=[(float(raw[0]), _number(raw[1]))]))
        elif isinstance(raw, list):
            for item in raw:
                metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
                points = item.get("values") or ([item["value"]] if "value" in item else [])
                values = [(float(p[0]), _number(p[1])) for p in points]
                series.append(PromSeries(metric=metric, values=values))
        return cls(result_type=rtype, series=series)

    def by_label(self, label: str = "app") -> dict[str, PromSeries]:
        """Series keyed by one label's value (later series with the same value are merged)."""
        out: dict[str, PromSeries] = {}
        for s in self.series:
            key = s.metric.get(label)
            if key is None:
                continue
            if key in out:
                out[key] = PromSeries(metric=out[key].metric, values=out[key].values + s.values)
            else:
                out[key] = s
        return out
