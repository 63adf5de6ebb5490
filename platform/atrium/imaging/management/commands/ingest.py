"""python manage.py ingest PATH --study SLUG: ingest a folder, a file or a zip of DICOM, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from atrium.imaging.demo_data import attach_demo_ground_truth
from atrium.imaging.errors import IngestError
from atrium.imaging.nifti import find_nifti_stacks, is_nifti, parse_label_mapping
from atrium.imaging.services import ingest_nifti, ingest_sources
from atrium.imaging.sources import count_sources, iter_sources
from atrium.studies.models import Study


class Command(BaseCommand):
    help = "Ingest DICOM files (a folder, a file or a .zip) into a study: decode once, de-identify, store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--study", required=True, help="slug of the study to ingest into")
        parser.add_argument("--site", default="", help="site name recorded on the new cases")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--labels",
            default="",
            help="NIfTI label maps: ukbb (1 LV, 2 Myo, 3 RV), acdc (1 RV, 2 Myo, 3 LV) or a mapping like 1:LV,2:Myo,3:RV",
        )
        parser.add_argument(
            "--nifti-image", default="sa.nii.gz", help="NIfTI image file name in each subject folder"
        )
        parser.add_argument(
            "--nifti-seg", default="seg_sa.nii.gz", help="NIfTI label-map file name beside it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["path"]
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no study with slug {options['study']!r} (known: {known})")
        if not root.exists():
            raise CommandError(f"{root}: does not exist")
        stacks = (
            find_nifti_stacks(root, options["nifti_image"], options["nifti_seg"])
            if (is_nifti(root) or root.is_dir())
            else []
        )
        if stacks:
            self._ingest_nifti(study, stacks, options)
            return
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

    def _ingest_nifti(
        self, study: Study, stacks: list[tuple[Path, Path | None]], options: dict[str, Any]
    ) -> None:
        mapping = None
        if options["labels"]:
            try:
                mapping = parse_label_mapping(options["labels"])
            except ValueError as exc:
                raise CommandError(f"--labels: {exc}") from None
        created = 0
        errors: list[str] = []
        for image, seg in tqdm(
            stacks, unit="stack", disable=options["no_progress"], desc="nifti", file=self.stderr._out
        ):
            try:
                _, _, was_created = ingest_nifti(
                    study=study, image_path=image, seg_path=seg, mapping=mapping, site=options["site"]
                )
            except IngestError as exc:
                errors.append(str(exc))
                continue
            created += int(was_created)
        for error in errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        self.stdout.write(f"{len(stacks)} NIfTI stacks, {created} series stored, {len(errors)} errors")
        if errors:
            raise CommandError(f"{len(errors)} NIfTI stack(s) could not be ingested (see above)")
