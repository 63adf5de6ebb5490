"""`adapt` jobs: adapt a study's model to one site or scanner vendor without labels from it.

Labelled source = the study's submitted reads (or reference labels) on cases from OTHER sites/vendors;
unlabelled target = the images of the chosen site's/vendor's cases. The parent model is fine-tuned
adversarially (ml.domain_adaptation), then, for segmentation, self-trained on its own labels of the target
images (pseudo-labels, SELF_TRAINING_ROUNDS rounds; max_seconds bounds each stage: the adversarial one and
each student), then deployed behind an intensity normaliser fitted on the target against a shape prior of
the source labels, with the prior restoring its output (PRIOR_RESTORATION; the version's config gains
`restoration`, its weights the normaliser's and the prior's), and registered as a new ModelVersion with the
parent as lineage and
`adapted_to` in its config; its validation metrics are broken down by site and vendor, beside the parent's.
Validation cases never train (their target labels only score the result). Pure orchestration over ml/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from django.db.models import Q

from atrium.imaging.pixel_store import get_pixel_store
from atrium.learning.examples import (
    Examples,
    assign_validation_split,
    cardiac_examples_from_annotations,
    examples_from_reference,
    pad_to_multiple,
    plane_examples_from_annotations,
    submitted_cases,
    windowed,
)
from atrium.learning.models import Job, JobKind, ModelFamily, ModelVersion
from atrium.learning.services import JobReporter, register_handler
from atrium.studies.models import Case, Split, Study, TaskKind

ADAPT_PARAMS = frozenset(
    {"family", "target_site", "target_vendor", "model_version", "max_steps", "max_seconds", "strength",
     "seed", "source", "batch_size", "promote", "max_target_frames", "self_training_rounds",
     "self_training_steps", "teacher_statistics", "teacher", "shape_prior_steps", "normaliser_steps",
     "prior_restoration"}
)  # fmt: skip
MIN_SOURCE_EXAMPLES = 4
# Rounds of pseudo-label self-training after the adversarial stage (segmentation; see
# ml.domain_adaptation.self_training for how the default was chosen).
SELF_TRAINING_ROUNDS = 3
ProgressFn = Callable[[float, str, dict[str, Any]], None]
# The BatchNorm statistics the adapted teacher and the students label the target with (the adapt job's
# teacher_statistics; ml.domain_adaptation.self_training.STATISTICS, kept here so that checking params
# imports no torch). The default, "both", averages their probabilities with the statistics they trained
# with and with ones re-estimated on the target images; the figures are in bench/domain_shift.py. The
# co-teacher, the parent, always labels with target statistics.
STATISTICS = ("both", "own", "target")
TEACHER_STATISTICS: Final = "both"
# What labels the target in the first self-training round, with the parent as co-teacher (the adapt job's
# teacher; ml.domain_adaptation.shape_prior.TEACHERS): the adversarially adapted model, the parent behind an
# intensity normaliser fitted against a shape prior of the source labels, or the mean of the two.
TEACHERS = ("normaliser", "adversarial", "both")
FIRST_ROUND_TEACHER: Final = "normaliser"
# ml.domain_adaptation.shape_prior.PRIOR_STEPS and NORMALISER_STEPS (a test checks they agree).
PRIOR_STEPS, NORMALISER_STEPS = 1500, 300
# Segmentation: after the last stage, fit the normaliser again in front of the adapted model and put the
# shape prior behind it, restoring its probabilities at inference (ml.domain_adaptation.restoration; the
# version carries all three). Chosen on the development vendors before GE was run (bench/domain_shift.py,
# last docstring section); the adapt job's prior_restoration param.
PRIOR_RESTORATION: Final = True


@dataclass(frozen=True)
class AdaptParams:
    family: str
    target_site: str
    target_vendor: str
    parent: ModelVersion
    max_steps: int
    max_seconds: float
    strength: float
    seed: int
    source: str
    batch_size: int
    max_target_frames: int
    self_training_rounds: int = 0
    self_training_steps: int = 0
    teacher_statistics: str = TEACHER_STATISTICS
    teacher: str = FIRST_ROUND_TEACHER
    shape_prior_steps: int = 0
    normaliser_steps: int = 0
    prior_restoration: bool = False

    @property
    def needs_shape_prior(self) -> bool:
        return self.prior_restoration or (self.self_training_rounds > 0 and self.teacher != "adversarial")

    @property
    def adapted_to(self) -> dict[str, str]:
        return {k: v for k, v in (("site", self.target_site), ("vendor", self.target_vendor)) if v}


def _int(params: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def _float(params: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number in {lo}..{hi}, got {value!r}")
    return float(value)


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value.strip()


def _segmentation_choice(
    params: dict[str, Any], name: str, choices: tuple[str, ...], default: str, segmentation: bool, what: str
) -> str:
    """params[name] (default `default`), one of `choices`, and given only for a segmentation model."""
    value = params.get(name, default)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)} ({what}), got {value!r}")
    if name in params and not segmentation:
        raise ValueError(f"{name} applies to segmentation models; plane classifiers adapt adversarially")
    return str(value)


def default_family(study: Study) -> str:
    return ModelFamily.CLASSIFICATION if study.task_kind == TaskKind.ULTRASOUND else ModelFamily.SEGMENTATION


def target_filter(site: str, vendor: str) -> Q:
    """Cases of the target: the site (exact) and/or the vendor (DICOM Manufacturer, case-insensitive)."""
    q = Q()
    if site:
        q &= Q(site=site)
    if vendor:
        q &= Q(vendor__iexact=vendor)
    return q


def parse_adapt_params(study: Study, params: dict[str, Any]) -> AdaptParams:
    """Check an adapt job's params; a ValueError names the first problem (the API answers 400)."""
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    unknown = sorted(set(params) - ADAPT_PARAMS)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)}; expected {', '.join(sorted(ADAPT_PARAMS))}"
        )
    family = params.get("family") or default_family(study)
    if family not in (ModelFamily.SEGMENTATION, ModelFamily.CLASSIFICATION):
        raise ValueError(f"family must be segmentation or classification, got {family!r}")
    segmentation = family == ModelFamily.SEGMENTATION
    rounds = _int(params, "self_training_rounds", SELF_TRAINING_ROUNDS if segmentation else 0, 0, 10)
    if rounds and not segmentation:
        raise ValueError(
            "self_training_rounds applies to segmentation models; plane classifiers adapt adversarially"
        )
    statistics = _segmentation_choice(
        params, "teacher_statistics", STATISTICS, TEACHER_STATISTICS, segmentation,
        "the BatchNorm statistics self-training labels the target with",
    )  # fmt: skip
    teacher = _segmentation_choice(
        params, "teacher", TEACHERS, FIRST_ROUND_TEACHER, segmentation,
        "what labels the target in the first self-training round",
    )  # fmt: skip
    if "teacher" in params and teacher != "adversarial" and not rounds:
        raise ValueError(
            f"teacher {teacher!r} labels the target for self-training: set self_training_rounds >= 1"
        )
    if "prior_restoration" in params and not segmentation:
        raise ValueError(
            "prior_restoration applies to segmentation models; plane classifiers adapt adversarially"
        )
    site, vendor = _text(params, "target_site"), _text(params, "target_vendor")
    if not site and not vendor:
        raise ValueError("give target_site or target_vendor: the site or scanner vendor to adapt to")
    targets = study.cases.filter(target_filter(site, vendor))
    if not targets.exists():
        sites = sorted({s for s in study.cases.values_list("site", flat=True) if s})
        vendors = sorted({v for v in study.cases.values_list("vendor", flat=True) if v})
        raise ValueError(
            f"no case of study {study.slug} matches site {site!r} / vendor {vendor!r}; "
            f"sites: {', '.join(sites) or 'none'}; vendors: {', '.join(vendors) or 'none'}"
        )
    if not study.cases.exclude(target_filter(site, vendor)).exists():
        raise ValueError(
            "every case of the study is from the target; adaptation needs labelled cases from other sites"
        )
    version_id = params.get("model_version")
    if version_id is not None:
        if isinstance(version_id, bool) or not isinstance(version_id, int):
            raise ValueError(f"model_version must be the id of a model version, got {version_id!r}")
        parent = ModelVersion.objects.filter(pk=version_id, study=study, family=family).first()
        if parent is None:
            raise ValueError(f"model version {version_id} is not a {family} model of study {study.slug}")
    else:
        parent = (
            ModelVersion.objects.filter(study=study, family=family, promoted=True).order_by("-number").first()
            or ModelVersion.objects.filter(study=study, family=family).order_by("-number").first()
        )
        if parent is None:
            raise ValueError(f"study {study.slug} has no {family} model to adapt; train one first")
    if parent.config.get("arch") == "deepmedic":
        raise ValueError(
            f"model version {parent.number} is a 3D DeepMedic; adaptation works on the 2D segmenters "
            "(fcn, unet) and SonoNet: name one of those as model_version"
        )
    for flag in ("promote", "prior_restoration"):
        if not isinstance(params.get(flag, False), bool):
            raise ValueError(f"{flag} must be true or false, got {params[flag]!r}")
    source = params.get("source", "annotations")
    if source not in ("annotations", "reference"):
        raise ValueError(f"source must be 'annotations' or 'reference', got {source!r}")
    max_steps = _int(params, "max_steps", 200, 1, 100_000)
    return AdaptParams(
        family=family, target_site=site, target_vendor=vendor, parent=parent,
        max_steps=max_steps,
        max_seconds=_float(params, "max_seconds", 300.0, 1.0, 86_400.0),
        strength=_float(params, "strength", 1.0, 0.0, 100.0),
        seed=_int(params, "seed", 0, 0, 2**31 - 1), source=source,
        batch_size=_int(params, "batch_size", 8, 1, 512),
        max_target_frames=_int(params, "max_target_frames", 512, 1, 100_000),
        self_training_rounds=rounds,
        # each student trains for twice the adversarial steps, as in bench/domain_shift.py
        self_training_steps=_int(params, "self_training_steps", 2 * max_steps, 1, 200_000),
        teacher_statistics=statistics, teacher=teacher if rounds else "adversarial",
        # the shape prior's and the normaliser's steps as in bench/domain_shift.py (both within max_seconds)
        shape_prior_steps=_int(params, "shape_prior_steps", PRIOR_STEPS, 1, 100_000),
        normaliser_steps=_int(params, "normaliser_steps", NORMALISER_STEPS, 1, 100_000),
        prior_restoration=bool(params.get("prior_restoration", PRIOR_RESTORATION)) and segmentation,
    )  # fmt: skip


def validated_adapt_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """The API's check: the params with their defaults filled in, or a 400 naming the problem."""
    from rest_framework.exceptions import ValidationError

    try:
        p = parse_adapt_params(study, params)
    except ValueError as exc:
        raise ValidationError({"params": str(exc)}) from None
    out = dict(params)
    out.update(
        {"family": p.family, "model_version": p.parent.pk, "max_steps": p.max_steps, "max_seconds": p.max_seconds,
         "strength": p.strength, "seed": p.seed, "source": p.source, "batch_size": p.batch_size,
         "self_training_rounds": p.self_training_rounds, "self_training_steps": p.self_training_steps}
        | ({"teacher_statistics": p.teacher_statistics, "teacher": p.teacher,
            "shape_prior_steps": p.shape_prior_steps, "normaliser_steps": p.normaliser_steps,
            "prior_restoration": p.prior_restoration}
           if p.family == ModelFamily.SEGMENTATION else {})
    )  # fmt: skip
    return out


def _examples(study: Study, cases: Any, family: str, source: str) -> Examples:
    if source == "reference":
        return examples_from_reference(cases)
    cases = cases.filter(pk__in=submitted_cases(study).values("pk"))
    if family == ModelFamily.CLASSIFICATION:
        return plane_examples_from_annotations(cases)
    return cardiac_examples_from_annotations(cases)


def target_images(cases: Any, limit: int) -> np.ndarray:
    """Unlabelled frames of the target cases, windowed to [0, 1]: (N, H, W), at most `limit`, evenly spread.
    Frames of different sizes are padded to the largest."""
    store = get_pixel_store()
    frames: list[np.ndarray] = []
    for case in cases.select_related("series"):
        series = case.series
        array = np.asarray(store.open(series.store_key))
        flat = windowed(array.reshape(-1, *series.frame_shape) if array.ndim > 3 else array, series)
        if flat.ndim == 4:  # RGB ultrasound
            flat = flat @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        frames.extend(flat)
    if not frames:
        return np.zeros((0, 16, 16), np.float32)
    if len(frames) > limit:
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, limit).round().astype(int)]
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    return np.stack([np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]))) for f in frames]).astype(
        np.float32
    )


def metrics_by_group(family: str, model: Any, examples: Examples) -> dict[str, Any]:
    """Validation metrics per site and per vendor of the examples' cases: {"by_site": {site: metrics},
    "by_vendor": {vendor: metrics}}; cases without a site or vendor count under "unknown"."""
    from atrium.learning.training import evaluate

    out: dict[str, dict[str, dict[str, float]]] = {"by_site": {}, "by_vendor": {}}
    if len(examples) == 0 or not examples.case_ids:
        return out
    ids = np.asarray(examples.case_ids)
    info = {
        c.pk: (c.site or "unknown", c.vendor or "unknown")
        for c in Case.objects.filter(pk__in=set(ids.tolist()))
    }
    for key, index in (("by_site", 0), ("by_vendor", 1)):
        groups = np.array([info[int(i)][index] for i in ids])
        for value in sorted(set(groups.tolist())):
            mask = groups == value
            subset = examples.subset(mask)  # keeps slice/phase items: the 3D segmenter groups volumes
            out[key][value] = {**evaluate(family, model, subset), "n": int(mask.sum())}
    return out


def adapt_for_study(
    *, study: Study, params: dict[str, Any], progress: ProgressFn, should_stop: Callable[[], bool],
    created_by: Any = None, job_id: int | None = None,
) -> ModelVersion:  # fmt: skip
    import torch

    from atrium.learning.model_builders import load_model
    from atrium.learning.registry import register_model_version
    from atrium.learning.training import evaluate
    from ml.domain_adaptation.restoration import restoration_config
    from ml.training.trainer import Progress

    p = parse_adapt_params(study, params)
    assign_validation_split(study)
    target_q = target_filter(p.target_site, p.target_vendor)
    pool = study.cases.exclude(split=Split.VALIDATION)
    source = _examples(study, pool.exclude(target_q), p.family, p.source)
    if len(source) < MIN_SOURCE_EXAMPLES:
        raise ValueError(
            f"only {len(source)} labelled examples from other sites in {study.slug}; at least {MIN_SOURCE_EXAMPLES} are needed"
        )
    target = target_images(pool.filter(target_q), p.max_target_frames)
    if len(target) == 0:
        raise ValueError("the target has no cases outside the validation split to adapt on")
    validation = _examples(study, study.cases.filter(split=Split.VALIDATION), p.family, p.source)
    progress(
        0.02,
        f"adapting model v{p.parent.number} with {len(source)} source and {len(target)} target frames",
        {},
    )
    parent = load_model(p.parent)
    torch.manual_seed(p.seed)
    self_training_log: list[dict[str, Any]] = []
    shape_prior: dict[str, Any] | None = None
    restoration: dict[str, Any] | None = None
    # The adversarial stage fills the bar to 0.9, or to 0.5 when the shape prior or self-training follow it.
    adversarial_share = 0.5 if p.self_training_rounds or p.needs_shape_prior else 0.9

    def on_progress(pr: Progress) -> None:
        fraction = adversarial_share * _done(pr, p.max_steps, p.max_seconds)
        progress(
            fraction,
            f"step {pr.step}, loss {pr.loss:.4f}",
            {"step": pr.step, "loss": pr.loss, "metrics": pr.metrics},
        )

    common: dict[str, Any] = {
        "strength": p.strength, "ramp_steps": max(1, p.max_steps // 3), "max_steps": p.max_steps,
        "max_seconds": p.max_seconds, "batch_size": p.batch_size, "eval_every": None, "seed": p.seed,
        "device": None, "progress": on_progress, "should_stop": should_stop,
    }  # fmt: skip
    rates: dict[str, float] = {}  # the adaptation's own defaults unless set below
    if p.family == ModelFamily.SEGMENTATION:
        from ml.domain_adaptation.restoration import base_segmenter
        from ml.domain_adaptation.segmentation import DISCRIMINATOR_LR, SEGMENTER_ADAPT_LR, adapt_segmenter

        # An adapted parent carries a normaliser and a shape prior of its own: its segmenter is adapted again,
        # and this job fits a prior and a normaliser anew. The whole parent stays the co-teacher.
        base = base_segmenter(parent)
        multiple = int(getattr(parent, "multiple", 16))
        src_images, _ = pad_to_multiple(source.images, multiple)
        src_labels, _ = pad_to_multiple(source.labels, multiple)
        tgt, _ = pad_to_multiple(target, multiple)
        if src_images.shape[1:] != tgt.shape[1:]:
            raise ValueError(
                f"target frames {tgt.shape[1:]} differ in size from source frames {src_images.shape[1:]}"
            )
        rates = {"lr": SEGMENTER_ADAPT_LR, "discriminator_lr": DISCRIMINATOR_LR}
        result = adapt_segmenter(
            base, src_images, src_labels, tgt, lr=SEGMENTER_ADAPT_LR, discriminator_lr=DISCRIMINATOR_LR, **common
        )  # fmt: skip
        prior, shape_prior = _shape_prior(p, src_labels, progress, should_stop)
        if p.self_training_rounds:
            teacher = _first_round_teacher(
                p, result.model, base, prior, tgt, shape_prior, progress, should_stop
            )
            self_trained = _self_train(p, teacher, parent, src_images, src_labels, tgt, progress, should_stop)
            result.model, self_training_log = self_trained.model, self_trained.rounds
        if p.prior_restoration:
            result.model, restoration = _restore(p, result.model, prior, tgt, progress, should_stop)
    else:
        from ml.classification.sononet import SonoNet
        from ml.domain_adaptation.classification import adapt_classifier

        assert isinstance(parent, SonoNet)
        result = adapt_classifier(parent, source.images, source.labels, target, **common)
    progress(0.93, "evaluating by site and vendor", {})
    model = result.model.cpu().eval()
    examples = validation if len(validation) else source
    metrics: dict[str, Any] = dict(evaluate(p.family, model, examples))
    metrics.update(metrics_by_group(p.family, model, examples))
    metrics["parent"] = metrics_by_group(p.family, parent, examples)
    metrics["n_source"], metrics["n_target_frames"], metrics["n_validation"] = (
        len(source),
        len(target),
        len(validation),
    )
    config = {
        **{k: v for k, v in p.parent.config.items() if k != "restoration"},
        "adapted_to": p.adapted_to,
        # what build_model needs to rebuild the normaliser and the prior around the segmenter
        **({"restoration": restoration_config(model)} if restoration else {}),
        "adaptation": {
            "method": "adversarial (Kamnitsas et al. 2017)"
            + (" + pseudo-label self-training" if p.self_training_rounds else "")
            + (
                " from an intensity normaliser fitted against a shape prior"
                if p.self_training_rounds and p.teacher != "adversarial"
                else ""
            )
            + (" + a normaliser in front and the shape prior's restoration behind" if restoration else ""),
            "taps": list(result.config.taps),
            "strength": p.strength, "learning_rates": rates, "steps": result.history.step,
            "stopped": result.history.stopped, "domain_accuracy_final": result.domain.recent_accuracy(20),
            "seed": p.seed, "source": p.source,
            "self_training": {
                "rounds": p.self_training_rounds, "steps_per_student": p.self_training_steps,
                "first_round_co_teacher": "parent" if p.self_training_rounds else None,
                "first_round_teacher": p.teacher if p.self_training_rounds else None,
                "shape_prior": shape_prior,
                "teacher_statistics": p.teacher_statistics if p.self_training_rounds else None,
                "log": self_training_log,
            },
            "restoration": restoration,
        },
        "job": job_id,
    }  # fmt: skip
    return register_model_version(
        study=study, family=p.family, model=model, config=config, training_set=source.annotation_versions,
        metrics=metrics, parent=p.parent, created_by=created_by,
    )  # fmt: skip


def _done(pr: Any, max_steps: int, max_seconds: float) -> float:
    """How far a training stage is, 0..1: by steps or by time, whichever limit is nearer."""
    return float(min(1.0, max(pr.step / max_steps, pr.elapsed_s / max_seconds)))


def _shape_prior(
    p: AdaptParams, src_labels: np.ndarray, progress: ProgressFn, should_stop: Callable[[], bool]
) -> tuple[Any, dict[str, Any] | None]:
    """The shape prior of the source labels (None when neither the teacher nor the restoration needs one),
    and a record of its training."""
    from ml.domain_adaptation.shape_prior import train_shape_prior

    if not p.needs_shape_prior:
        return None, None
    progress(0.5, "learning a shape prior from the source labels", {})
    prior, losses = train_shape_prior(
        src_labels, steps=p.shape_prior_steps, seed=p.seed, should_stop=should_stop, max_seconds=p.max_seconds
    )
    return prior, {"prior_steps": p.shape_prior_steps, "prior_loss_final": losses[-1] if losses else None}


def _first_round_teacher(
    p: AdaptParams, adapted: Any, parent: Any, prior: Any, tgt: np.ndarray, record: dict[str, Any] | None,
    progress: ProgressFn, should_stop: Callable[[], bool],
) -> Any:  # fmt: skip
    """The model that labels the target in the first round (p.teacher); the normaliser fitted in front of
    the parent's segmenter for it is added to the prior's `record` (its steps and losses)."""
    from ml.domain_adaptation.shape_prior import first_round_teacher, fit_normaliser

    if p.teacher == "adversarial":
        return adapted
    assert prior is not None and record is not None
    progress(0.55, "fitting an intensity normaliser to the target against the shape prior", {})
    fitted = fit_normaliser(
        parent, prior, tgt, steps=p.normaliser_steps, seed=p.seed, should_stop=should_stop,
        max_seconds=p.max_seconds,
    )  # fmt: skip
    record.update(_fit_record(p, fitted))
    return first_round_teacher(p.teacher, adapted, fitted.model)


def _restore(
    p: AdaptParams, model: Any, prior: Any, tgt: np.ndarray, progress: ProgressFn,
    should_stop: Callable[[], bool],
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """The adapted model behind a normaliser fitted on the target against the prior, with the prior's
    restoration at inference; and a record of the fit."""
    from ml.domain_adaptation.restoration import restored_segmenter

    progress(
        0.9, "fitting a normaliser in front of the adapted model; the shape prior restores its output", {}
    )
    restored, fitted = restored_segmenter(
        model, prior, tgt, steps=p.normaliser_steps, seed=p.seed, should_stop=should_stop,
        max_seconds=p.max_seconds,
    )  # fmt: skip
    return restored, _fit_record(p, fitted)


def _fit_record(p: AdaptParams, fitted: Any) -> dict[str, Any]:
    """What the version records of a normaliser fit: its steps and the prior's label-free loss along it."""
    return {"normaliser_steps": p.normaliser_steps, "normaliser_prior_loss": fitted.prior_loss}


def _self_train(
    p: AdaptParams, adapted: Any, parent: Any, src_images: np.ndarray, src_labels: np.ndarray,
    tgt: np.ndarray, progress: ProgressFn, should_stop: Callable[[], bool],
) -> Any:  # fmt: skip
    """Pseudo-label self-training after the adversarial stage: each round a fresh segmenter of the parent's
    architecture trains on the source labels plus the current model's labels of the target images; the
    first round's labels average the adapted model's and the parent's probabilities."""
    from atrium.learning.model_builders import segmenter_config
    from ml.domain_adaptation.self_training import self_train_segmenter
    from ml.segmentation.train import train_segmenter
    from ml.training.trainer import Progress

    arch, config = segmenter_config(p.parent.config)

    def student(images: np.ndarray, labels: np.ndarray, round_: int) -> Any:
        start = 0.6 + 0.3 * round_ / p.self_training_rounds

        def on_progress(pr: Progress) -> None:
            progress(
                start + 0.3 * _done(pr, p.self_training_steps, p.max_seconds) / p.self_training_rounds,
                f"self-training round {round_ + 1}/{p.self_training_rounds}: step {pr.step}, loss {pr.loss:.4f}",
                {"step": pr.step, "loss": pr.loss, "round": round_ + 1},
            )

        model, _ = train_segmenter(
            images, labels, arch=arch, config=config, max_steps=p.self_training_steps,
            max_seconds=p.max_seconds, eval_every=None, patience=None, val_fraction=0.0,
            batch_size=p.batch_size, seed=p.seed + round_, restore_best=False, device=None,
            progress=on_progress, should_stop=should_stop,
        )  # fmt: skip
        return model

    progress(0.6, f"self-training: {p.self_training_rounds} rounds of pseudo-labelling the target", {})
    return self_train_segmenter(
        adapted, src_images, src_labels, tgt, train=student, rounds=p.self_training_rounds,
        co_teacher=parent, teacher_statistics=p.teacher_statistics,  # type: ignore[arg-type]
        should_stop=should_stop,
    )  # fmt: skip


@register_handler(JobKind.ADAPT)
def adapt(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.learning.registry import promote

    study = job.study
    if study is None:
        raise ValueError("an adapt job needs a study")
    version = adapt_for_study(
        study=study, params=job.params,
        progress=lambda fraction, message, detail: reporter.progress(fraction, message, **detail),
        should_stop=reporter.should_stop, created_by=job.created_by, job_id=job.pk,
    )  # fmt: skip
    if job.params.get("promote", False):
        promote(version=version, actor=job.created_by)
    return {
        "model_version": version.pk,
        "number": version.number,
        "family": version.family,
        "parent": version.parent_id,
        "adapted_to": version.config.get("adapted_to"),
        "metrics": version.metrics,
        "breakdown": breakdown_rows(version.metrics),
        "stages": stage_rows(version.config),
    }


def breakdown_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The by-site and by-vendor metrics as table rows for the job page: group ("site"/"vendor"), value, n,
    metric name, the adapted model's value and the parent's."""
    rows = []
    parent = metrics.get("parent", {})
    for key, label in (("by_site", "site"), ("by_vendor", "vendor")):
        for value, m in sorted(metrics.get(key, {}).items()):
            name = "dice_mean" if "dice_mean" in m else "accuracy"
            before = parent.get(key, {}).get(value, {}).get(name)
            rows.append({"group": label, "value": value, "n": m.get("n"), "metric": name,
                         "adapted": m.get(name), "parent": before})  # fmt: skip
    return rows


# Why the adversarial stage ended before its steps ran out (ml.training.trainer's History.stopped).
STOP_REASONS = {
    "max_seconds": "its time limit",
    "cancelled": "the job was cancelled",
    "early_stopping": "early stopping",
}


def curve_points(curve: list[Any], width: int = 160, height: int = 40) -> str:
    """(step, value) pairs -> an SVG polyline's points, x by step and y by value (the lowest at the bottom),
    scaled to width x height with a 2 px margin; "" for fewer than two pairs."""
    if len(curve) < 2:
        return ""
    xs = [float(s) for s, _ in curve]
    ys = [float(v) for _, v in curve]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 4) / ((x1 - x0) or 1.0)
    sy = (height - 4) / ((y1 - y0) or 1.0)
    return " ".join(
        f"{2 + (x - x0) * sx:.1f},{height - 2 - (y - y0) * sy:.1f}" for x, y in zip(xs, ys, strict=True)
    )


def _loss_change(curve: list[Any]) -> str:
    return f"the prior's loss {curve[0][1]:.3f} -> {curve[-1][1]:.3f}" if curve else "no steps run"


def stage_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    """What an adapted version's stages did, from its config's `adaptation` record, as rows for the job
    page: stage, detail, and (label-free) curve points of the prior's loss where a normaliser was fitted."""
    record = config.get("adaptation") or {}
    if not record:
        return []
    rows = [{
        "stage": "adversarial",
        "detail": f"{record.get('steps')} steps"
        + (f" (stopped: {STOP_REASONS.get(record['stopped'], record['stopped'])})"
           if record.get("stopped") and record["stopped"] != "max_steps" else "")
        + (f"; the discriminator's accuracy at the end {record['domain_accuracy_final']:.2f}"
           if record.get("domain_accuracy_final") is not None else ""),
    }]  # fmt: skip
    self_training = record.get("self_training") or {}
    prior: dict[str, Any] = self_training.get("shape_prior") or {}
    if prior:
        loss = prior.get("prior_loss_final")
        rows.append({
            "stage": "shape prior",
            "detail": f"{prior.get('prior_steps')} steps on the source labels"
            + (f"; its loss at the end {loss:.3f}" if loss is not None else ""),
        })  # fmt: skip
    if self_training.get("rounds"):
        teacher = self_training.get("first_round_teacher")
        curve = prior.get("normaliser_prior_loss", [])
        if teacher in ("normaliser", "both") and curve:
            rows.append({
                "stage": "first-round teacher",
                "detail": ("the parent" if teacher == "normaliser" else "the mean of the adversarial model and the parent")
                + f" behind a normaliser fitted for {prior.get('normaliser_steps')} steps; {_loss_change(curve)}",
                "points": curve_points(curve),
            })  # fmt: skip
        log = self_training.get("log") or []
        changed = [r.get("changed_fraction") for r in log if r.get("changed_fraction") is not None]
        rows.append({
            "stage": "self-training",
            "detail": f"{self_training['rounds']} rounds of {self_training.get('steps_per_student')} steps"
            + (f"; pseudo-labels changed between rounds: {', '.join(f'{c:.1%}' for c in changed)}" if changed else ""),
        })  # fmt: skip
    restoration = record.get("restoration")
    if restoration:
        curve = restoration.get("normaliser_prior_loss", [])
        rows.append({
            "stage": "restoration",
            "detail": f"a normaliser fitted for {restoration.get('normaliser_steps')} steps in front of the adapted "
            f"model ({_loss_change(curve)}); the shape prior restores its output",
            "points": curve_points(curve),
        })  # fmt: skip
    return rows
