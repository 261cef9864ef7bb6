"""One TLS context for the bot's HTTP clients (Slack, Microsoft Graph) in a process.

httpx builds a context for each client, each loading the CA bundle anew (certifi's takes some 0.65 MB
a time). This one is built as httpx builds its own, from the same variables read at the same moment
(each client's construction): SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle; clients built
while they name the same bundle share one context.
"""

from __future__ import annotations

import os
import ssl
from functools import cache

import httpx


def client_tls() -> ssl.SSLContext:
    """The context for a new httpx client (`verify=`), as `httpx.Client()` would make it now."""
    return _context(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


@cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # The variables are passed only to key the cache: httpx reads them itself, as it always does.
    return httpx.create_ssl_context()
