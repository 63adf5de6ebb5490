"""init-secrets.sh, the container health check and the nginx configuration."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from atrium.settings.env import database_from_url
from tests.deploy.chart import DEPLOY


def test_init_secrets_writes_every_compose_secret_and_never_rotates_them(tmp_path: Path):
    target = tmp_path / "secrets"
    script = DEPLOY / "scripts" / "init-secrets.sh"
    first = subprocess.run(["sh", str(script), "atrium.test", str(target)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    expected = {Path(secret["file"]).name for secret in compose["secrets"].values()}
    if subprocess.run(["sh", "-c", "command -v openssl"], capture_output=True).returncode != 0:
        expected -= {"tls.crt", "tls.key"}
    assert expected <= {p.name for p in target.iterdir()}
    assert len((target / "secret_key").read_text()) >= 50  # production refuses shorter keys
    database = database_from_url((target / "database_url").read_text())
    assert database["PASSWORD"] == (target / "postgres_password").read_text()
    assert (database["HOST"], database["NAME"], database["USER"]) == ("postgres", "atrium", "atrium")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    subprocess.run(["sh", str(script), "atrium.test", str(target)], check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def _healthcheck_module():
    spec = importlib.util.spec_from_file_location("atrium_healthcheck", DEPLOY / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probe_host_is_the_first_concrete_allowed_host():
    module = _healthcheck_module()
    assert module.probe_host("*, .example.org,web") == "example.org"
    assert module.probe_host("atrium.example.org,web") == "atrium.example.org"
    assert module.probe_host("") == "localhost"


@pytest.fixture
def recording_server():
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k: v for k, v in self.headers.items()}})
            self.send_response(200 if self.path == "/health/live" else 503)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, seen
    server.shutdown()
    server.server_close()


def test_the_health_check_sends_an_allowed_host_as_https_and_reads_the_status(recording_server, monkeypatch):
    port, seen = recording_server
    monkeypatch.setenv("ALLOWED_HOSTS", "atrium.example.org,web")
    module = _healthcheck_module()
    assert module.check("/health/live", port) is True
    assert module.check("/health/ready", port) is False
    assert seen[0]["Host"] == "atrium.example.org"
    assert seen[0]["X-Forwarded-Proto"] == "https"


def test_the_health_check_fails_when_nothing_listens():
    module = _healthcheck_module()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert module.check("/health/live", port, timeout_s=1) is False


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return (DEPLOY / "nginx" / "atrium.conf").read_text()


def _block(conf: str, header: str) -> str:
    start = conf.index(header)
    depth, i = 0, conf.index("{", start)
    for j in range(i, len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[j], 0)
        if depth == 0:
            return conf[i : j + 1]
    raise AssertionError(f"unclosed block {header}")


def test_nginx_braces_balance_and_the_upstream_is_the_compose_web_service(nginx_conf):
    code = re.sub(r"#.*", "", nginx_conf)
    assert code.count("{") == code.count("}")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert "server web:8000;" in _block(code, "upstream atrium_web")
    assert "8000" in compose["services"]["web"]["expose"]


def test_nginx_upgrades_websockets_under_ws(nginx_conf):
    ws = _block(nginx_conf, "location /ws/")
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "proxy_http_version 1.1;" in ws
    assert "map $http_upgrade $connection_upgrade" in nginx_conf


def test_nginx_serves_static_from_the_volume_and_keeps_media_internal(nginx_conf):
    assert "alias /srv/static/;" in _block(nginx_conf, "location /static/")
    media = _block(nginx_conf, "location /media/")
    assert "internal;" in media and "alias /srv/media/;" in media
    assert "return 404;" in _block(nginx_conf, "location = /metrics")


def test_nginx_passes_the_scheme_and_accepts_the_upload_limit(nginx_conf):
    tls_server = nginx_conf[nginx_conf.index("listen 443") :]
    root = _block(tls_server, "location / {")
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in root
    assert "proxy_set_header Host $host;" in root
    assert "client_max_body_size 2g;" in nginx_conf
    assert "/run/secrets/tls_certificate" in nginx_conf and "/run/secrets/tls_key" in nginx_conf
