"""python manage.py ingest PATH --study SLUG: ingest a folder, a file or a zip of DICOM, with progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from atrium.imaging.demo_data import attach_demo_ground_truth
from atrium.imaging.errors import IngestError
from atrium.imaging.nifti import AcdcFrames, find_acdc_sets, find_nifti_stacks, is_nifti, parse_label_mapping
from atrium.imaging.services import ingest_acdc, ingest_nifti, ingest_sources
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
        parser.add_argument(
            "--ed",
            type=int,
            default=None,
            help="ACDC layout: end-diastole frame number when there is no Info.cfg",
        )
        parser.add_argument(
            "--es",
            type=int,
            default=None,
            help="ACDC layout: end-systole frame number when there is no Info.cfg",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["path"]
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no study with slug {options['study']!r} (known: {known})")
        if not root.exists():
            raise CommandError(f"{root}: does not exist")
        try:
            acdc = find_acdc_sets(root) if (is_nifti(root) or root.is_dir()) else []
        except IngestError as exc:
            raise CommandError(str(exc)) from None
        stacks = (
            find_nifti_stacks(root, options["nifti_image"], options["nifti_seg"])
            if (root.is_dir() or (is_nifti(root) and not acdc))
            else []
        )
        if stacks or acdc:
            self._ingest_nifti(study, stacks, acdc, options)
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
        self,
        study: Study,
        stacks: list[tuple[Path, Path | None]],
        acdc: list[AcdcFrames],
        options: dict[str, Any],
    ) -> None:
        mapping = None
        if options["labels"]:
            try:
                mapping = parse_label_mapping(options["labels"])
            except ValueError as exc:
                raise CommandError(f"--labels: {exc}") from None
        jobs: Sequence[Callable[[], tuple[Any, Any, bool]]] = [
            partial(
                ingest_nifti,
                study=study,
                image_path=image,
                seg_path=seg,
                mapping=mapping,
                site=options["site"],
            )
            for image, seg in stacks
        ] + [
            partial(
                ingest_acdc,
                study=study,
                frames=subject,
                mapping=mapping,
                ed=options["ed"],
                es=options["es"],
                site=options["site"],
            )
            for subject in acdc
        ]
        created = 0
        errors: list[str] = []
        for job in tqdm(
            jobs, unit="stack", disable=options["no_progress"], desc="nifti", file=self.stderr._out
        ):
            try:
                _, _, was_created = job()
            except IngestError as exc:
                errors.append(str(exc))
                continue
            created += int(was_created)
        for error in errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        self.stdout.write(f"{len(jobs)} NIfTI stacks, {created} series stored, {len(errors)} errors")
        if errors:
            raise CommandError(f"{len(errors)} NIfTI stack(s) could not be ingested (see above)")
