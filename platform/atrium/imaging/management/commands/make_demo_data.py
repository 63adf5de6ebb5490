"""python manage.py make_demo_data DIR --seed N: synthetic cardiac cine and ultrasound DICOM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from atrium.imaging.demo_data import make_demo_data


class Command(BaseCommand):
    help = "Write a deterministic synthetic demo set (cardiac cine MR + fetal ultrasound) as DICOM files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--cardiac", type=int, default=6, help="number of short-axis cine stacks")
        parser.add_argument("--ultrasound", type=int, default=6, help="number of ultrasound clips")
        parser.add_argument("--size", type=int, default=128, help="cine matrix size (pixels)")

    def handle(self, *args: Any, **options: Any) -> None:
        manifest = make_demo_data(
            options["directory"],
            seed=options["seed"],
            n_cardiac=options["cardiac"],
            n_ultrasound=options["ultrasound"],
            size=options["size"],
            progress=lambda line: self.stdout.write(f"  {line}"),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"wrote {len(manifest['cardiac'])} cine stacks and {len(manifest['ultrasound'])} clips "
                f"to {options['directory']}"
            )
        )
