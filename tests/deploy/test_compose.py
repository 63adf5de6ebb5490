"""docker-compose.yml parses and every name it uses (services, volumes, networks, secrets, files) exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import DEPLOY, ROOT

COMPOSE_FILES = [DEPLOY / "docker-compose.yml", DEPLOY / "docker-compose.second-gpu.yml"]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(DEPLOY / "docker-compose.yml")


def _names(entries) -> list[str]:
    if isinstance(entries, dict):
        return list(entries)
    return [entry if isinstance(entry, str) else entry["source"] for entry in entries or []]


def test_the_expected_services_are_defined(compose):
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "nginx",
        "worker-gpu",
        "worker-cpu",
        "flower",
    }
    assert compose["services"]["flower"]["profiles"] == ["monitoring"]


def test_every_depends_on_target_is_a_service_and_startup_waits_on_health(compose):
    services = compose["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, (name, target)
            assert condition["condition"] in {"service_healthy", "service_completed_successfully"}
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target] or target == "web", (name, target)
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_named_volumes_networks_and_secrets_are_all_declared(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).resolve().exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        for network in _names(service.get("networks")):
            assert network in compose["networks"], (name, network)
        for secret in _names(service.get("secrets")):
            assert secret in compose["secrets"], (name, secret)


def test_build_contexts_and_dockerfiles_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).is_file(), name


def test_postgres_and_redis_keep_data_in_volumes_and_have_health_checks(compose):
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_the_gpu_worker_reserves_an_nvidia_gpu_and_the_cpu_worker_does_not(compose):
    devices = compose["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
    assert "deploy" not in compose["services"]["worker-cpu"]


def test_nginx_shares_static_and_media_with_the_app_read_only(compose):
    nginx = compose["services"]["nginx"]
    mounts = {v.split(":")[1]: v for v in nginx["volumes"]}
    assert mounts["/srv/static"].startswith("static:") and mounts["/srv/static"].endswith(":ro")
    assert mounts["/srv/media"].startswith("media:") and mounts["/srv/media"].endswith(":ro")
    assert "static:/srv/atrium/static" in compose["services"]["migrate"]["volumes"]
    for service in ("web", "worker-gpu", "worker-cpu"):
        assert "media:/srv/media" in compose["services"][service]["volumes"]


def test_app_services_get_secrets_as_files_only(compose):
    for name in ("migrate", "web", "worker-gpu", "worker-cpu"):
        env = compose["services"][name]["environment"]
        assert env["SECRET_KEY_FILE"] == "/run/secrets/secret_key"
        assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert "SECRET_KEY" not in env and "DATABASE_URL" not in env
        assert set(_names(compose["services"][name]["secrets"])) >= {"secret_key", "database_url"}


def test_secret_files_are_the_ones_init_secrets_writes(compose):
    script = (DEPLOY / "scripts" / "init-secrets.sh").read_text()
    for name, secret in compose["secrets"].items():
        file_name = Path(secret["file"]).name
        assert secret["file"].startswith("./secrets/"), name
        assert re.search(rf"(write_once {re.escape(file_name)} |\$DIR/{re.escape(file_name)})", script), name


def test_the_second_gpu_override_extends_the_gpu_worker_with_another_device():
    override = load(DEPLOY / "docker-compose.second-gpu.yml")
    worker = override["services"]["worker-gpu-1"]
    assert worker["extends"]["service"] == "worker-gpu"
    assert worker["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] == ["1"]


def test_every_compose_variable_without_a_default_is_in_the_env_example():
    example = {
        line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines() if "=" in line
    }
    for path in COMPOSE_FILES:
        for name, modifier in re.findall(r"\$\{([A-Z_]+)(:?[-?]?)", path.read_text()):
            if modifier != ":-":
                assert name in example, (path.name, name)
