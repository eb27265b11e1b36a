"""Base model for JSON read from Fly: unknown keys are ignored, parsing happens once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FlyModel(BaseModel):
    """Parsed at the boundary; fields Fly adds later are ignored rather than fatal."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
