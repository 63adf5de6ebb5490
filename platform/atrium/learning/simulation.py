"""Active learning without humans on a study: its cases' reference labels (synthetic ground truth) are the
oracle; ml.active_learning.simulation runs the loop; one LearningCurve row is stored per strategy.

Used by `manage.py simulate_active_learning` and by the `simulate` job handler (simulation_jobs).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.db import transaction

from atrium.learning.examples import (
    Examples,
    assign_validation_split,
    examples_from_reference,
    pad_to_multiple,
)
from atrium.learning.models import Job, LearningCurve, ModelFamily
from atrium.studies.models import Split, Study, TaskKind
from ml.active_learning.strategies import STRATEGIES

# Disagreement reads observers' annotations, which a human-free run does not have.
SIMULATED_STRATEGIES: tuple[str, ...] = tuple(name for name in STRATEGIES if name != "disagreement")
HELD_OUT_FRACTION = 0.2
LIMITS = {"rounds": (1, 50), "batch": (1, 1000), "initial": (1, 1000), "seed": (0, 2**31 - 1)}
LIMITS.update({"steps_per_round": (1, 5000), "first_round_steps": (1, 20000), "frames_per_case": (1, 500)})

ProgressFn = Callable[[float, str], None]


class SimulationError(ValueError):
    """Bad simulation input (unknown strategy, no ground truth, too few cases...); the message names it."""


@dataclass(frozen=True)
class SimulationSettings:
    strategies: tuple[str, ...]
    family: str
    rounds: int = 5
    batch: int = 2
    initial: int = 2
    seed: int = 0
    steps_per_round: int = 30
    first_round_steps: int = 60
    frames_per_case: int = 8

    def as_params(self) -> dict[str, Any]:
        params = asdict(self)
        params["strategies"] = list(self.strategies)
        return params


def parse_strategies(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """ "all", one name or a comma list (or a list of names) -> strategy names, each once, in order."""
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    names = [n for n in names if n]
    if not names:
        raise SimulationError("no strategy given; name one or more of " + ", ".join(SIMULATED_STRATEGIES))
    if names == ["all"]:
        return SIMULATED_STRATEGIES
    out: list[str] = []
    for name in names:
        if name == "disagreement":
            raise SimulationError(
                "strategy 'disagreement' needs observers' reads, which a simulation has none of"
            )
        if name not in SIMULATED_STRATEGIES:
            raise SimulationError(
                f"unknown strategy {name!r}; expected 'all' or one of {', '.join(SIMULATED_STRATEGIES)}"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def default_family(study: Study) -> str:
    return ModelFamily.CLASSIFICATION if study.task_kind == TaskKind.ULTRASOUND else ModelFamily.SEGMENTATION


def clean_settings(study: Study, raw: dict[str, Any]) -> SimulationSettings:
    """Check a simulation's parameters (from the command line or a job's params) and fill the defaults."""
    if not isinstance(raw, dict):
        raise SimulationError("simulation parameters must be an object")
    requested = raw.get("strategies") or raw.get("strategy") or "all"
    if not isinstance(requested, (str, list, tuple)):
        raise SimulationError(f"strategies must be a name, a comma list or a list, got {requested!r}")
    strategies = parse_strategies(requested)
    family = raw.get("family") or default_family(study)
    if family not in (ModelFamily.SEGMENTATION, ModelFamily.CLASSIFICATION):
        raise SimulationError(f"unknown family {family!r}; expected 'segmentation' or 'classification'")
    values: dict[str, int] = {}
    for name, (low, high) in LIMITS.items():
        if raw.get(name) is None:
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise SimulationError(f"{name} must be a whole number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise SimulationError(f"{name} must be a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise SimulationError(f"{name} must be between {low} and {high}, got {number}")
        values[name] = number
    return SimulationSettings(strategies=strategies, family=str(family), **values)


def _cases_with_truth(study: Study) -> Any:
    return study.cases.exclude(series__label_store_key="").filter(series__isnull=False)


def study_has_ground_truth(study: Study) -> bool:
    return bool(_cases_with_truth(study).exists())


def _held_out(study: Study, case_ids: list[int]) -> list[int]:
    """Without a validation split: a deterministic ~20 % (at least one) of the cases, by hash."""
    n = max(1, round(HELD_OUT_FRACTION * len(case_ids)))
    return sorted(case_ids, key=lambda pk: zlib.crc32(f"{study.pk}:{pk}".encode()))[:n]


def _as_pool_arrays(family: str, examples: Examples) -> tuple[np.ndarray, np.ndarray]:
    """Images the family's learner takes: segmentation padded to multiples of 16; classification frames
    resized to the classifier's input."""
    if family == ModelFamily.SEGMENTATION:
        images, _ = pad_to_multiple(examples.images)
        labels, _ = pad_to_multiple(examples.labels)
        return images, labels.astype(np.int64)
    from ml.active_learning.setups import CLASSIFIER_INPUT
    from ml.classification.infer import preprocess_frames

    frames = preprocess_frames(examples.images, CLASSIFIER_INPUT)[:, 0].numpy()
    return frames, examples.labels.astype(np.int64)


def oracle_pool(study: Study, settings: SimulationSettings) -> tuple[Any, dict[str, Any]]:
    """The simulation's data from the study's reference labels: the pool (cases outside the validation
    split) and the validation set (the study's validation split; without one, a held-out ~20 %)."""
    from ml.active_learning.simulation import Pool

    with_truth = list(_cases_with_truth(study).values_list("pk", flat=True))
    if not with_truth:
        raise SimulationError(
            f"study {study.slug!r} has no cases with ground truth (reference labels) to act as the oracle"
        )
    assign_validation_split(study)
    validation = list(_cases_with_truth(study).filter(split=Split.VALIDATION).values_list("pk", flat=True))
    held_out = not validation
    if held_out:
        validation = _held_out(study, with_truth)
    held = set(validation)
    pool_cases = [pk for pk in with_truth if pk not in held]
    if len(pool_cases) <= settings.initial:
        raise SimulationError(
            f"study {study.slug!r} has {len(pool_cases)} pool cases with ground truth; the initial set of "
            f"{settings.initial} must leave some to select (lower --initial or add cases)"
        )
    n = settings.frames_per_case
    pool_ex = examples_from_reference(study.cases.filter(pk__in=pool_cases), frames_per_case=n)
    val_ex = examples_from_reference(study.cases.filter(pk__in=validation), frames_per_case=n)
    is_masks = pool_ex.labels.ndim == 3
    if settings.family == ModelFamily.SEGMENTATION and not is_masks:
        raise SimulationError(
            f"the ground truth of study {study.slug!r} is per-frame plane labels; segmentation needs label maps"
        )
    if settings.family == ModelFamily.CLASSIFICATION and is_masks:
        raise SimulationError(
            f"the ground truth of study {study.slug!r} is label maps; classification needs plane labels"
        )
    pool_x, pool_y = _as_pool_arrays(settings.family, pool_ex)
    val_x, val_y = _as_pool_arrays(settings.family, val_ex)
    pool = Pool(pool_x, pool_y, np.asarray(pool_ex.case_ids), val_x, val_y)
    info = {
        "pool_cases": len(pool_cases),
        "validation_cases": len(validation),
        "validation": "held-out" if held_out else "study split",
        "pool_items": len(pool_x),
    }
    return pool, info


def _learners(settings: SimulationSettings, n_classes: int) -> Callable[[], Any]:
    from ml.active_learning.setups import (
        MC_STRATEGIES,
        classification_learner,
        learner_config_for,
        segmentation_learner,
    )

    mc = bool(set(settings.strategies) & MC_STRATEGIES)
    base: dict[str, Any] = {"seed": settings.seed, "batch_size": 8}
    if settings.family == ModelFamily.SEGMENTATION:
        # Flips, rotations and zooms, as the platform's trainer and bench/active_learning.py augment.
        base["reduction"] = "foreground"
        base["augment"] = "affine"
    else:
        # Batches that draw every labelled plane equally often (rare planes would otherwise be under-learnt).
        base["balanced"] = True

    def build(config: Any) -> Any:
        if settings.family == ModelFamily.SEGMENTATION:
            return segmentation_learner(config, n_classes=n_classes, dropout=0.1 if mc else 0.0)
        return classification_learner(config, n_classes=n_classes, dropout=0.3)

    def make() -> Any:
        config = learner_config_for(
            settings.strategies,
            steps_per_round=settings.steps_per_round,
            first_round_steps=settings.first_round_steps,
            **base,
        )
        return build(config)

    return make


class _ClassScore:
    """Classification scored as macro-F1 over the classes present in the validation set (a study uses a
    few of the 14 planes; absent classes would count as zeros)."""

    def __init__(self, learner: Any) -> None:
        self.learner = learner

    def train(self, x: np.ndarray, y: np.ndarray, previous: Any) -> Any:
        return self.learner.train(x, y, previous)

    def predict(self, model: Any, x: np.ndarray) -> Any:
        return self.learner.predict(model, x)

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> float:
        from ml.metrics.agreement import macro_f1

        pred = self.learner.probs(model, x).argmax(axis=1)
        return float(macro_f1(y, pred, labels=sorted({int(v) for v in y})))


def run_simulation(
    *,
    study: Study,
    settings: SimulationSettings,
    progress: ProgressFn | None = None,
    job: Job | None = None,
    created_by: Any = None,
) -> list[LearningCurve]:
    """Run every strategy of `settings` on the study's oracle and store one LearningCurve per strategy (all
    or none). progress(fraction, message) is called after each training."""
    import torch

    from ml.active_learning.setups import METRICS
    from ml.active_learning.simulation import compare_strategies
    from ml.data.planes import PLANES

    pool, info = oracle_pool(study, settings)
    n_classes = 4 if settings.family == ModelFamily.SEGMENTATION else len(PLANES)
    make = _learners(settings, n_classes)
    if settings.family == ModelFamily.CLASSIFICATION:
        make_learner: Callable[[], Any] = lambda: _ClassScore(make())  # noqa: E731
    else:
        make_learner = make
    # Progress in trainings: the full-data reference trains rounds + 1 times, as each strategy does.
    total = (1 + len(settings.strategies)) * (settings.rounds + 1)
    done = [0]

    def step(strategy: str, r: int, n: int, score: float) -> None:
        done[0] += settings.rounds + 1 if strategy == "full-data" else 1
        if progress is not None:
            progress(
                min(done[0] / total, 0.99), f"{strategy}: round {r}, {n} labelled cases, score {score:.3f}"
            )

    torch.manual_seed(settings.seed)
    comparison = compare_strategies(
        settings.strategies, pool, make_learner=make_learner, initial=settings.initial,
        batch=settings.batch, rounds=settings.rounds, seed=settings.seed, progress=step,
    )  # fmt: skip
    run = uuid.uuid4().hex[:12]
    params = {**settings.as_params(), **info, "run": run}
    with transaction.atomic():
        rows = [
            LearningCurve.objects.create(
                study=study,
                family=settings.family,
                strategy=strategy,
                metric=METRICS[settings.family],
                params={k: v for k, v in params.items() if k != "strategies"},
                points=[
                    {"n_labelled": n, "score": round(float(s), 6), "round": r}
                    for r, (n, s) in enumerate(zip(curve.n_labelled, curve.score, strict=True))
                ],
                full_data_score=round(comparison.full_data_score, 6),
                job=job,
                created_by=created_by,
            )
            for strategy, curve in comparison.curves.items()
        ]
    if progress is not None:
        progress(1.0, f"stored {len(rows)} learning curves (run {run})")
    return rows
