"""python manage.py rundemo: migrate, demo users and data, then the ASGI server and a Celery worker."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEMO_USERS = (
    ("anna", "annotator"),
    ("omar", "annotator"),
    ("mel", "ml_engineer"),
    ("lea", "study_lead"),
    ("admin", "admin"),
)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ensure_demo_users(credentials_file: Path) -> dict[str, str]:
    """Create the demo users once; their random passwords are kept in var/ and printed on every start."""
    from atrium.accounts.models import User
    from atrium.accounts.services import create_user

    stored: dict[str, str] = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
    for username, role in DEMO_USERS:
        if username in stored and User.objects.filter(username=username).exists():
            continue
        password = stored.get(username) or secrets.token_urlsafe(9)
        user = User.objects.filter(username=username).first()
        if user is None:
            create_user(username=username, password=password, role=role)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        stored[username] = password
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(stored, indent=2))
    credentials_file.chmod(0o600)
    return stored


def ensure_demo_studies() -> list[Any]:
    from atrium.accounts.models import User
    from atrium.accounts.services import add_member
    from atrium.studies.models import Study
    from atrium.studies.services import create_study

    specs = [
        ("cardiac-demo", "Cardiac short axis (demo)", "cardiac", False, 1),
        ("fetal-demo", "Fetal standard planes (demo)", "ultrasound", False, 1),
        ("cardiac-blind", "Cardiac reading study, blind (demo)", "cardiac", True, 2),
    ]
    users = list(User.objects.filter(username__in=[u for u, _ in DEMO_USERS]))
    studies = []
    for slug, name, kind, blind, reads in specs:
        study = Study.objects.filter(slug=slug).first() or create_study(
            slug=slug, name=name, task_kind=kind, blind=blind, reads_per_case=reads
        )
        for user in users:
            add_member(user=user, study=study)
        studies.append(study)
    return studies


class Command(BaseCommand):
    help = "Run the platform with demo data: ASGI server (daphne) + Celery worker, embedded defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("ATRIUM_PORT", "8000")))
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--setup-only", action="store_true", help="prepare everything, start nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not options["setup_only"] and port_in_use(host, port):
            raise CommandError(
                f"port {port} on {host} is already in use; stop what runs there or pass --port N"
            )
        var = Path(settings.VAR_DIR)
        var.mkdir(parents=True, exist_ok=True)
        self.stdout.write("migrating the database ...")
        call_command("migrate", interactive=False, verbosity=0)
        credentials = ensure_demo_users(var / "demo-credentials.json")
        cardiac, fetal, blind = ensure_demo_studies()
        data_dir = var / "demo-data"
        if not (data_dir / "manifest.json").exists():
            self.stdout.write(f"writing synthetic demo DICOM to {data_dir} ...")
            call_command("make_demo_data", str(data_dir), seed=options["seed"])
        for study, folder in ((cardiac, "cardiac"), (fetal, "ultrasound"), (blind, "cardiac")):
            if not study.cases.exists():
                self.stdout.write(f"ingesting {folder} into {study.slug} ...")
                call_command("ingest", str(data_dir / folder), study=study.slug, no_progress=True)
                from atrium.imaging.demo_data import attach_demo_ground_truth

                attach_demo_ground_truth(study=study, root=data_dir)
        self.stdout.write(self.style.SUCCESS("demo users (username / password / role):"))
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:6s} {credentials[username]:14s} {role}")
        if options["setup_only"]:
            return
        self._serve(host, port)

    def _serve(self, host: str, port: int) -> None:
        from atrium.celery_app import worker_argv

        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(settings.PLATFORM_DIR), str(settings.REPO_DIR)]),
        }
        python = sys.executable
        worker = subprocess.Popen(
            worker_argv("demo@%h"),
            env=env,
        )
        server = subprocess.Popen(
            [python, "-m", "daphne", "-b", host, "-p", str(port), "atrium.asgi:application"], env=env
        )
        url = f"http://{host}:{port}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"Atrium is running at {url} (log in at {url}accounts/login/); Ctrl-C stops it"
            )
        )
        children = [server, worker]

        def stop(*_: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [c for c in children if c.returncode not in (0, -15, None)]
        if failed:
            raise CommandError("the server or the worker stopped unexpectedly (see its log above)")
