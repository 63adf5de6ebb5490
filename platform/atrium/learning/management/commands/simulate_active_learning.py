"""python manage.py simulate_active_learning --study SLUG --strategy S --rounds R: run active learning with
the study's synthetic ground truth as the oracle, in this process, and store one learning curve per
strategy (plus the full-data score)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atrium.learning.simulation import SimulationError, clean_settings, run_simulation
from atrium.learning.simulation_plot import labels_to_target
from atrium.studies.models import Study


class Command(BaseCommand):
    help = "Simulate active learning on a study with its ground truth as the oracle; stores learning curves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--strategy", required=True, help="a strategy, a comma-separated list, or 'all'")
        parser.add_argument(
            "--rounds", type=int, required=True, help="acquisition rounds after the initial set"
        )
        parser.add_argument("--batch", type=int, default=2, help="cases labelled per round")
        parser.add_argument("--initial", type=int, default=2, help="random cases labelled before round 0")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--family", choices=["segmentation", "classification"], default=None)
        parser.add_argument("--steps", type=int, default=None, help="optimiser steps per round (warm start)")
        parser.add_argument(
            "--first-steps", type=int, default=None, help="optimiser steps of the first model"
        )
        parser.add_argument("--frames-per-case", type=int, default=None, help="slices/frames taken per case")

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {options['study']!r}")
        raw = {
            "strategies": options["strategy"],
            "rounds": options["rounds"],
            "batch": options["batch"],
            "initial": options["initial"],
            "seed": options["seed"],
            "family": options["family"],
            "steps_per_round": options["steps"],
            "first_round_steps": options["first_steps"],
            "frames_per_case": options["frames_per_case"],
        }
        try:
            settings = clean_settings(study, raw)
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        total = (1 + len(settings.strategies)) * (settings.rounds + 1)
        bar = tqdm(total=total, desc=f"simulate {study.slug}", unit="training", file=self.stderr._out)

        def progress(fraction: float, message: str) -> None:
            target = min(round(fraction * total), total)
            bar.update(max(target - bar.n, 0))
            bar.set_postfix_str(message[:60])

        try:
            rows = run_simulation(study=study, settings=settings, progress=progress)
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        full = rows[0].full_data_score if rows else None
        self.stdout.write(f"full-data score ({rows[0].metric if rows else ''}): {full}")
        for row in rows:
            points = " ".join(f"{p['n_labelled']}:{p['score']:.3f}" for p in row.points)
            to95 = labels_to_target(row)
            self.stdout.write(
                f"{row.strategy:>16}  to 95 %: {to95 if to95 is not None else 'not reached'}  {points}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"stored {len(rows)} learning curves (run {rows[0].params['run'] if rows else '-'}); "
                f"see /studies/{study.slug}/learning-curves/"
            )
        )
