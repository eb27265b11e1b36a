"""hotdash_ops: the plain-Python core of hotdash-ops (no Prefect imports).

Grouped by the area of the Infrastructure Operations Runbook each module serves; one concept
per module.

Shared by every area:

* `settings`        settings from the environment (FLY_API_TOKEN, FLYCTL, URLs, paths)
* `inventory`       the fleet: environments, apps, thresholds, dependencies, approvers
* `validation`      user-input validators and their Annotated types (AppName, ImageRef, ...)
* `operator_input`  free text people type into run forms (names, reasons), one line, bounded
* `redaction`       keeping secrets out of logs, exceptions, artifacts and the audit log
* `tls`             one TLS context per process for every outgoing HTTPS client
* `errors`          the FlyError tree and the one HTTP-status mapping
* `audit`           the hash-chained, append-only audit log (`hotdash-audit verify`)
* `models`          pydantic models of the JSON Fly's API and flyctl return; VM presets
* `scaling`         Scaling Operations: what a scale request may change, before and after
* `local_time`      times shown to people: in the inventory's timezone, named
* `wording`         counted nouns in text people read ("1 dependency")
* `run_forms`       run-form parameter types: inventory apps as lists, optional text boxes

By runbook area (each package's docstring maps its modules to runbook lines):

* `fly`        talking to Fly.io: auth, http, machines, prometheus, logs, flyctl, sharding
* `monitor`    Daily Operations and Monitoring & Alerts: probe, metrics, log_review, health,
               health_report, alert_rules, alert_state, alert_messages, alert_response,
               stale_runs, manual_check
* `deploys`    Deployment Procedures and Rollback: config, repository, parity, test_commands,
               provenance, smoke, record, promotion, release_tag, window, approvals,
               regression, release_choice
* `incidents`  Incident Response: response, record, log, postmortem
* `cost`       Weekly Cost Review and Cost Management: pricing, estimate, findings, snapshots,
               report, chart, autostop, volumes
"""
