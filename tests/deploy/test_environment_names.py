"""The names compose and the chart set are the names the settings read; `_FILE` only where supported."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.chart import (
    DEPLOY,
    environment_names_read_by_the_platform,
    pod_specs,
    render_default,
    render_production,
)

# Read by the programs in the images, not by the platform's settings.
READ_ELSEWHERE = {
    "DJANGO_SETTINGS_MODULE",  # Django itself
    "POD_IP",
    "POD_NAME",  # Kubernetes downward API, expanded into ALLOWED_HOSTS and --hostname
    "ATRIUM_WAIT_FOR_DB",
    "ATRIUM_MIGRATE_ON_START",
    "ATRIUM_WORKER_CONCURRENCY",  # entrypoint.sh / CMD
}
# What the chart sets for S3 media (media.s3.enabled); read by atrium.settings.base.
S3_NAMES = {
    "ATRIUM_STORAGE",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_S3_CUSTOM_DOMAIN",
    "AWS_ACCESS_KEY_ID_FILE",
    "AWS_SECRET_ACCESS_KEY_FILE",
}


def compose_environment() -> dict[str, set[str]]:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return {
        name: set(service.get("environment", {}))
        for name, service in compose["services"].items()
        if name in {"migrate", "web", "worker-gpu", "worker-cpu"}
    }


def chart_environment(documents) -> dict[str, set[str]]:
    return {
        f"{name}/{container['name']}": {item["name"] for item in container["env"]}
        for name, spec in pod_specs(documents)
        for container in spec.get("initContainers", []) + spec["containers"]
    }


SOURCES = {
    "compose": compose_environment,
    "chart-default": lambda: chart_environment(render_default()),
    "chart-production": lambda: chart_environment(render_production()),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_variable_set_is_read_by_the_platform(source):
    read = environment_names_read_by_the_platform()
    for where, names in SOURCES[source]().items():
        for name in names - READ_ELSEWHERE:
            base = name.removesuffix("_FILE")
            assert base in read, f"{where} sets {name}, which nothing in platform/atrium reads"
            if name.endswith("_FILE"):
                assert "env_str" in read[base], f"{where} sets {name}, but {base} is not read with env_str"


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_required_production_settings_are_provided(source):
    for where, names in SOURCES[source]().items():
        assert {"SECRET_KEY_FILE", "DATABASE_URL_FILE", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"} <= names, (
            where
        )
        assert "REDIS_URL" in names or "REDIS_URL_FILE" in names, where


def test_the_s3_variables_the_chart_sets_are_read_by_the_settings():
    read = environment_names_read_by_the_platform()
    missing = {name for name in S3_NAMES if name.removesuffix("_FILE") not in read}
    assert not missing, sorted(missing)
