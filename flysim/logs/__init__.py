"""Fly's logs API (``GET /api/v1/apps/<app>/logs``)."""
