"""Rendering the Atrium chart for the tests, and reading the environment names the settings code reads."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tests.deploy.gotemplate import manifests, render_chart

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "atrium"

# What a trial install passes on the command line when the chart creates the Secret.
TRIAL_SECRETS = {
    "secrets": {
        "secretKey": "k" * 60,
        "databaseUrl": "postgres://atrium:pw@db.example:5432/atrium",
        "redisUrl": "redis://redis.example:6379/0",
    }
}


def render_default(**overrides: Any) -> list[dict[str, Any]]:
    from tests.deploy.gotemplate import deep_merge

    return manifests(render_chart(CHART, overrides=deep_merge(TRIAL_SECRETS, overrides)))


def render_production(**overrides: Any) -> list[dict[str, Any]]:
    return manifests(render_chart(CHART, [CHART / "values-production.yaml"], overrides=overrides))


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def pod_specs(documents: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in documents
        if doc["kind"] in ("Deployment", "Job")
    ]


_ENV_HELPERS = {"env_str", "env_int", "env_bool", "env_list"}


def environment_names_read_by_the_platform() -> dict[str, set[str]]:
    """{NAME: {helper names}} for every `env_*("NAME", ...)` and `os.environ.get("NAME")` in platform/."""
    names: dict[str, set[str]] = {}
    for path in (ROOT / "platform" / "atrium").rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            func = node.func
            helper = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if (
                helper in _ENV_HELPERS
                or helper in ("getenv", "setdefault")
                or (
                    helper == "get"
                    and isinstance(func, ast.Attribute)
                    and ast.unparse(func.value) == "os.environ"
                )
            ):
                names.setdefault(first.value, set()).add(helper)
    return names
