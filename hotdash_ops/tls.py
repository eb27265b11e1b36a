"""One TLS context per process for every outgoing HTTPS client (Fly's APIs, the apps' health
endpoints, dependencies, the status page).

httpx builds a new `ssl.SSLContext` for each client it makes, loading certifi's CA bundle each
time: 20-50 ms of CPU per client, and the flows make a client per API read. Built once here,
the same way httpx builds it (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured when first used).
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """The process's verifying TLS context (an SSLContext is safe to share between clients)."""
    return httpx.create_ssl_context()
