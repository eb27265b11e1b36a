"""hotdash_ops: the plain-Python core of hotdash-ops (no Prefect imports).

Public modules, one concept each:

* `settings`          Settings from the environment (FLY_API_TOKEN, FLYCTL, URLs, paths)
* `inventory`         the fleet: environments, apps, thresholds, dependencies, approvers
* `validation`        user-input validators and their Annotated types (AppName, ImageRef, ...)
* `auth`, `redaction` the Authorization header rule; keeping secrets out of text
* `errors`            the FlyError tree and the one HTTP-status mapping
* `models`            pydantic models of the JSON Fly's API and flyctl return; VM presets
* `machines_client`, `prometheus_client`, `logs_client`   httpx clients (reads retry)
* `flyctl`            the flyctl subprocess runner (mutations, releases, status)
* `metrics`           the PromQL we send and the per-app figures we derive
* `probe`             one HTTP check of an endpoint
* `health`            the Morning Health Check's verdicts
* `audit`             the hash-chained, append-only audit log (`hotdash-audit verify`)
"""
