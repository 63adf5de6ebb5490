"""python manage.py train --study SLUG: queue a training job (or run it here with --here) and follow it."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atrium.learning.models import Job, JobKind
from atrium.learning.services import enqueue_job, run_job
from atrium.learning.train_params import ARCHES, MAX_RESTARTS, parse_arch, parse_restarts
from atrium.studies.models import Study


class Command(BaseCommand):
    help = "Train a model for a study from its submitted reads; the new version is registered and promoted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True)
        parser.add_argument(
            "--family", choices=["segmentation", "classification", "reconstruction"], default=None
        )
        parser.add_argument(
            "--arch",
            choices=list(ARCHES),
            default=None,
            help="segmentation architecture: 2D fcn (default) or unet per slice, 3D deepmedic per short-axis stack",
        )
        parser.add_argument(
            "--restarts",
            type=int,
            choices=range(MAX_RESTARTS + 1),
            default=0,
            metavar=f"0-{MAX_RESTARTS}",
            help="2D segmenters: retrain from a new start when a run never learns some structure "
            "(validation Dice below 0.5); each run gets the full --max-seconds",
        )
        parser.add_argument("--max-seconds", type=float, default=120.0)
        parser.add_argument(
            "--source",
            choices=["annotations", "reference"],
            default="annotations",
            help="train from observers' reads, or from the reference labels (synthetic truth)",
        )
        parser.add_argument("--here", action="store_true", help="run in this process instead of on a worker")
        parser.add_argument("--no-wait", action="store_true", help="queue the job and return")

    def handle(self, *args: Any, **options: Any) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {options['study']!r}")
        params = {"max_seconds": options["max_seconds"], "source": options["source"]}
        if options["family"]:
            params["family"] = options["family"]
        if options["arch"]:
            params["arch"] = options["arch"]
        if options["restarts"]:
            params["restarts"] = options["restarts"]
        try:
            parse_arch(study, params)
            parse_restarts(study, params)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["here"]:
            job = Job.objects.create(kind=JobKind.TRAIN, study=study, params={**params, "infer_after": False})
            state = run_job(job.pk)
            job.refresh_from_db()
        else:
            job = enqueue_job(kind=JobKind.TRAIN, study=study, params=params)
            self.stdout.write(f"queued training job {job.pk} on the gpu queue")
            if options["no_wait"]:
                return
            last = ""
            while not job.is_finished:
                time.sleep(1)
                job.refresh_from_db()
                line = f"{job.state} {job.progress:.0%} {job.message}"
                if line != last:
                    self.stdout.write(line)
                    last = line
            state = job.state
        if state != "succeeded":
            raise CommandError(
                f"training job {job.pk} {state}: {job.error.splitlines()[0] if job.error else ''}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"model {job.result['family']} v{job.result['number']}: {job.result['metrics']}"
            )
        )
