"""Fly's managed Prometheus query API under ``/prometheus/<org>/api/v1/``."""
