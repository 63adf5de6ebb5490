"""The Dockerfiles, read without a container engine: stages, copied paths, users, ports and commands."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.chart import DEPLOY, ROOT

DOCKER = DEPLOY / "docker"
DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*[!e]"))  # not the .dockerignore files


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(ARGs before the first FROM, stages) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = argument.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages:
            assert keyword == "ARG", f"{path.name}: {keyword} before the first FROM"
            key, _, default = argument.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((keyword, argument.strip()))
    return global_args, stages


def exec_form(argument: str) -> list[str]:
    value = json.loads(argument)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


@pytest.fixture(params=[p.name for p in DOCKERFILES])
def dockerfile(request) -> tuple[str, dict[str, str], list[Stage]]:
    return (request.param, *parse(DOCKER / request.param))


def test_there_is_one_dockerfile_per_image():
    assert [p.name for p in DOCKERFILES] == [
        "Dockerfile.web",
        "Dockerfile.worker-cpu",
        "Dockerfile.worker-gpu",
    ]


def test_every_from_names_a_known_image_or_an_earlier_stage(dockerfile):
    name, global_args, stages = dockerfile
    earlier: set[str] = set()
    for stage in stages:
        base = stage.base
        if base.startswith("${"):
            base = global_args[base[2:-1]]
        assert base in earlier or re.fullmatch(r"[a-z0-9./-]+:[\w.-]+", base), (name, base)
        for copy in stage.all("COPY"):
            source = re.match(r"--from=(\S+)", copy)
            if source:
                assert source.group(1) in earlier, (name, copy)
        if stage.name:
            earlier.add(stage.name)


def test_every_copied_path_exists_in_the_repository_and_is_not_ignored(dockerfile):
    name, _, stages = dockerfile
    ignore = (DOCKER / f"{name}.dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            sources = shlex.split(copy)[:-1]
            for source in sources:
                assert (ROOT / source).exists(), (name, source)
                assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (
                    name,
                    source,
                )


def test_the_runtime_image_runs_as_a_non_root_user_with_the_production_settings(dockerfile):
    _, _, stages = dockerfile
    final = stages[-1]
    assert final.all("USER") and final.all("USER")[-1].split(":")[0] not in {"root", "0"}
    env = " ".join(final.all("ENV"))
    assert "DJANGO_SETTINGS_MODULE=atrium.settings.production" in env
    assert "PYTHONPATH=/app/platform:/app" in env
    assert exec_form(final.all("ENTRYPOINT")[-1]) == ["/usr/local/bin/atrium-entrypoint"]


def test_the_web_image_builds_the_front_end_collects_static_and_serves_asgi_with_a_health_check():
    global_args, stages = parse(DOCKER / "Dockerfile.web")
    frontend = next(s for s in stages if s.name == "frontend")
    assert "npm ci --no-audit --no-fund" in frontend.all("RUN")
    assert "npm run build" in frontend.all("RUN")
    web = stages[-1]
    assert any(
        "annotation_ui/static/annotation_ui/" in c and c.startswith("--from=frontend")
        for c in web.all("COPY")
    )
    assert any("manage.py collectstatic --noinput" in run for run in web.all("RUN"))
    assert global_args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert global_args["TORCH_VERSION"] == "2.13.0"
    assert global_args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert web.all("EXPOSE") == ["8000"]
    command = exec_form(web.all("CMD")[-1])
    assert command[0] == "uvicorn" and command[-1] == "atrium.asgi:application"
    assert "--proxy-headers" in command
    assert command[command.index("--port") + 1] == "8000"
    healthcheck = web.all("HEALTHCHECK")[-1]
    assert "/health/live" in healthcheck and "8000" in healthcheck


def test_workers_consume_their_queue_and_the_gpu_worker_one_task_at_a_time():
    _, cpu_stages = parse(DOCKER / "Dockerfile.worker-cpu")
    cpu_cmd = " ".join(exec_form(cpu_stages[-1].all("CMD")[-1]))
    assert "celery -A atrium.celery_app worker -Q cpu" in cpu_cmd
    gpu_args, gpu_stages = parse(DOCKER / "Dockerfile.worker-gpu")
    assert re.fullmatch(r"pytorch/pytorch:[\d.]+-cuda12\.\d+-cudnn9-runtime", gpu_args["PYTORCH_IMAGE"])
    gpu_cmd = exec_form(gpu_stages[-1].all("CMD")[-1])
    assert gpu_cmd[gpu_cmd.index("-Q") + 1] == "gpu"
    assert gpu_cmd[gpu_cmd.index("--concurrency") + 1] == "1"
    assert any("torch.version.cuda" in run for run in gpu_stages[-1].all("RUN"))


def test_the_images_install_exactly_the_dependencies_of_pyproject():
    for path in DOCKERFILES:
        text = path.read_text()
        assert "tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']" in text, path.name
        assert "-c /tmp/constraints.txt" in text, path.name  # torch is pinned while the rest installs


def test_the_entrypoint_is_valid_posix_shell_and_knows_its_commands():
    entrypoint = DOCKER / "entrypoint.sh"
    result = subprocess.run(["sh", "-n", str(entrypoint)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = entrypoint.read_text()
    assert "release)" in text and "wait-for-migrations)" in text and 'exec "$@"' in text


def test_the_entrypoint_runs_the_command_it_is_given(tmp_path: Path):
    # /app does not exist here: run a copy whose `cd /app` points at the repository.
    script = tmp_path / "entrypoint.sh"
    script.write_text((DOCKER / "entrypoint.sh").read_text().replace("cd /app", f"cd {ROOT}"))
    result = subprocess.run(
        ["sh", str(script), sys.executable, "-c", "print('ran')"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ran"
