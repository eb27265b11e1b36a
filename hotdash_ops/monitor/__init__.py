"""Watching the apps, pure: the Infrastructure Operations Runbook's Daily Operations and
Monitoring & Alerts.

* `probe`           one HTTP check of an endpoint (`curl https://APP.fly.dev/health`)
* `metrics`         the PromQL we send and the per-app figures (CPU, memory, p95, 5xx ratio)
* `log_review`      which log lines count as errors (Morning Health Check: overnight errors)
* `health`          the Morning Health Check's verdicts ("verify all services healthy")
* `health_report`   the Morning Health Check's report
* `alert_rules`     Automated Monitoring's thresholds per role (web, background, error rate)
* `error_budget`    SLOs: budget left, burn rates, the multiwindow burn-rate rules
* `alert_state`     alert hygiene: fire after consecutive failures, remind, resolve
* `alert_messages`  what people receive about alerts, per app or as a digest
* `alert_response`  Alert Response: the runbook's steps per alert and the flows that act
* `stale_runs`      a scheduled check that starts long after its time is skipped
* `manual_check`    Manual Health Checks: all apps, one app, the database
"""
