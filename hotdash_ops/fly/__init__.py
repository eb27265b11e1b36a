"""Talking to Fly.io: the Machines, Prometheus and logs HTTP clients, and flyctl.

Every read and every mutation the Infrastructure Operations Runbook does with `fly ...` or
`curl` against Fly goes through this package:

* `auth`        the Authorization header flyctl would send for a token (Bearer or FlyV1)
* `http`        the HTTP plumbing the clients share (retries on reads, one error mapping)
* `machines`    Machines API reads: apps, machines, volumes, secrets (`fly status`, volumes)
* `prometheus`  Fly's managed Prometheus (Monitoring & Alerts: the metrics the thresholds speak of)
* `logs`        Fly's logs API (Morning Health Check: review overnight errors; `fly logs`)
* `flyctl`      the flyctl subprocess runner: deploy, releases, scale, restart, volumes
                (Deployment Procedures, Rollback, Scaling Operations, Volume Management)
* `sharding`    fanning a fleet-wide read out over several small clients (the 15-minute monitor)
"""
