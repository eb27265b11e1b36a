"""flysim: a local Fly.io for hotdash-ops' demo and tests (it never imports ``hotdash_ops``).

One HTTP server (``python -m flysim --scenario FILE --port N``) and one flyctl-compatible
command (``flysim-fly``), both over one in-memory state built from a scenario file.

Layout (moto-style, one concern per module):

* ``scenario.py``: the YAML format, validated with pydantic (``ScenarioError`` names each problem)
* ``state.py``: the backend (Org -> App -> machines, volumes, releases, ...), all logic, reset
* ``shapes.py``: JSON shapes (Machines API snake_case; flyctl PascalCase)
* ``errors.py``: one class per Fly API error, rendering ``{"error": "..."}``
* ``guard.py``: token check, unknown app, injected faults, error rendering for every API route
* ``machines/``: Machines API under ``/v1`` (``urls.py`` routes as data, ``responses.py``)
* ``prometheus/``: ``/prometheus/<org>/api/v1/query|query_range`` (``promql.py`` = recognition)
* ``logs/``: ``/api/v1/apps/<app>/logs``
* ``app_endpoints/``: the apps' own endpoints ``/_apps/<app>/...`` and ``/_ext/<service>/...``
* ``flyctl_api/``: ``/_flyctl/...`` routes that only ``flysim-fly`` uses
* ``control.py``: ``/_sim/state``, ``/_sim/reset``, ``/_sim/apps[/<app>]``
* ``server.py``: the Starlette app; ``__main__.py``: uvicorn runner; ``cli.py``: ``flysim-fly``
* ``vmsizes.py``: VM presets and memory rules; ``ids.py``: Fly-shaped ids
"""
