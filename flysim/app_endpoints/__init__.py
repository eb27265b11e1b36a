"""The apps' own HTTP endpoints (``/_apps/<app>/...``) and external services (``/_ext/...``)."""
