"""python manage.py ingest PATH --study SLUG: ingest a folder, a file or a zip of DICOM, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from atrium.imaging.demo_data import attach_demo_ground_truth
from atrium.imaging.errors import IngestError
from atrium.imaging.services import ingest_sources
from atrium.imaging.sources import count_sources, iter_sources
from atrium.studies.models import Study


class Command(BaseCommand):
    help = "Ingest DICOM files (a folder, a file or a .zip) into a study: decode once, de-identify, store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--study", required=True, help="slug of the study to ingest into")
        parser.add_argument("--site", default="", help="site name recorded on the new cases")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["path"]
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no study with slug {options['study']!r} (known: {known})")
        if not root.exists():
            raise CommandError(f"{root}: does not exist")
        total = count_sources(root)
        bar = tqdm(
            total=total, unit="file", disable=options["no_progress"], desc="ingest", file=self.stderr._out
        )

        def progress(done: int, total_: int, name: str) -> None:
            bar.update(1)

        try:
            report = ingest_sources(
                study=study, sources=iter_sources(root), site=options["site"], progress=progress, total=total
            )
        except IngestError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        attached = attach_demo_ground_truth(study=study, root=root) if root.is_dir() else 0
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        self.stdout.write(
            f"{report.files_seen} files, {len(report.series_created)} series stored, "
            f"{report.duplicates} duplicate instances skipped, {len(report.errors)} errors"
            + (f", ground truth attached to {attached} series" if attached else "")
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} file(s) could not be ingested (see above)")
