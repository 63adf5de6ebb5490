#!/usr/bin/env python3
"""Container health check: GET a health path on the local server as a proxied HTTPS request would.

Production settings redirect plain HTTP to HTTPS and refuse unknown Host headers, so the probe sends
`X-Forwarded-Proto: https` and the first concrete name of ALLOWED_HOSTS. Exit 0 when the answer is 200.

    healthcheck.py [PATH] [PORT]      # defaults: /health/live 8000
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_host(allowed_hosts: str) -> str:
    """The first ALLOWED_HOSTS entry usable as a Host header ("*" and ".example.org" are patterns)."""
    for entry in allowed_hosts.split(","):
        host = entry.strip()
        if host == "*" or not host:
            continue
        return host.lstrip(".")
    return "localhost"


def check(path: str = "/health/live", port: int = 8000, timeout_s: float = 4.0) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={
            "Host": probe_host(os.environ.get("ALLOWED_HOSTS", "")),
            "X-Forwarded-Proto": "https",
            "User-Agent": "atrium-healthcheck",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "/health/live"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    sys.exit(0 if check(path, port) else 1)
