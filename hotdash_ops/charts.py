"""Charts for artifacts: matplotlib's Agg backend (no display needed on a worker) to PNG files,
small enough to embed in a markdown artifact as a `data:` URI: Prefect 3.9's UI renders
`data:image/` sources in markdown (its sanitizer adds `data` to the allowed image protocols).
The charts themselves live with their area (cost.chart, deploys.canary_chart)."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: workers have no display

from matplotlib.figure import Figure
from matplotlib.pyplot import close

DPI = 90


def save_png(fig: Figure, path: Path) -> Path:
    """Lay the figure out, write it to `path` as a PNG (folders made) and free it."""
    try:
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        close(fig)
    return path


def png_data_uri(path: Path) -> str:
    """The PNG as a `data:image/png;base64,...` URI for a markdown image."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
