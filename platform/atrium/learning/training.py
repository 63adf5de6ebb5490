"""Train a model for a study from its submitted annotations, evaluate it on the fixed validation split,
and register it. Called by the `train` job handler; pure orchestration over ml/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np

from atrium.learning.examples import (
    Examples,
    assign_validation_split,
    cardiac_examples_from_annotations,
    examples_from_reference,
    pad_to_multiple,
    plane_examples_from_annotations,
    submitted_cases,
)
from atrium.learning.models import ModelFamily, ModelVersion
from atrium.learning.registry import latest_version, register_model_version
from atrium.studies.models import Split, Study, TaskKind

ProgressFn = Callable[[float, str, dict[str, Any]], None]
MIN_EXAMPLES = 4


class NotEnoughData(ValueError):
    pass


def gather_examples(study: Study, *, split: str, source: str = "annotations") -> Examples:
    """Examples of the study in `split` ("train" = everything not in validation)."""
    assign_validation_split(study)
    if source == "reference":
        cases = (
            study.cases.filter(split=Split.VALIDATION)
            if split == "validation"
            else study.cases.exclude(split=Split.VALIDATION)
        )
        return examples_from_reference(cases)
    cases = submitted_cases(study)
    cases = (
        cases.filter(split=Split.VALIDATION)
        if split == "validation"
        else cases.exclude(split=Split.VALIDATION)
    )
    if study.task_kind == TaskKind.ULTRASOUND:
        return plane_examples_from_annotations(cases)
    return cardiac_examples_from_annotations(cases)


def evaluate(family: str, model: Any, examples: Examples) -> dict[str, float]:
    """Validation metrics: mean Dice per structure (segmentation) or macro-F1 and accuracy (planes)."""
    import torch

    from ml.metrics.overlap import dice

    if len(examples) == 0:
        return {}
    model.eval()
    if family == ModelFamily.SEGMENTATION:
        from ml.segmentation.deepmedic import DeepMedic
        from ml.segmentation.infer import segment_images

        if isinstance(model, DeepMedic):  # the same keys, from the predictions of the examples' volumes
            from atrium.learning.volume_segmenter import evaluate_volumes

            return evaluate_volumes(model, examples)

        images, (height, width) = pad_to_multiple(examples.images)
        predicted = segment_images(model, images, torch.device("cpu"))[:, :height, :width]
        out = {}
        for name, label in (("dice_lv", 1), ("dice_myo", 2), ("dice_rv", 3)):
            out[name] = float(
                np.mean(
                    [dice(p == label, t == label) for p, t in zip(predicted, examples.labels, strict=True)]
                )
            )
        out["dice_mean"] = float(np.mean([out["dice_lv"], out["dice_myo"], out["dice_rv"]]))
        return out
    from ml.classification.infer import predict_probs, preprocess_frames
    from ml.metrics.agreement import macro_f1

    size = tuple(model.config.input_size)
    probs = predict_probs(model, preprocess_frames(examples.images, size), torch.device("cpu"))
    predicted = probs.argmax(axis=1)
    return {
        "macro_f1": float(macro_f1(examples.labels, predicted, labels=list(range(probs.shape[1])))),
        "accuracy": float(np.mean(predicted == examples.labels)),
    }


def train_for_study(
    *,
    study: Study,
    params: dict[str, Any],
    progress: ProgressFn,
    should_stop: Callable[[], bool],
    checkpoint_path: Path | None,
    created_by: Any = None,
    job_id: int | None = None,
) -> ModelVersion:
    """Train, evaluate and register one model. A checkpoint already at `checkpoint_path` (left by an
    earlier attempt of the same job) is resumed from; the version's config records `resumed_from_step`
    and the `job` that made it."""
    import torch

    from atrium.learning.train_params import parse_arch, parse_restarts, train_family

    family = train_family(study, params)
    if family not in ModelFamily.values:
        raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(ModelFamily.values)}")
    arch = parse_arch(study, params)
    resume_from, resumed_step = _resumable(checkpoint_path)
    if family == ModelFamily.RECONSTRUCTION:
        return _train_reconstruction(
            study=study, params=params, progress=progress, should_stop=should_stop,
            checkpoint_path=checkpoint_path, resume_from=resume_from, resumed_step=resumed_step,
            created_by=created_by, job_id=job_id,
        )  # fmt: skip
    source = params.get("source", "annotations")
    train = gather_examples(study, split="train", source=source)
    validation = gather_examples(study, split="validation", source=source)
    if len(train) < MIN_EXAMPLES:
        raise NotEnoughData(
            f"only {len(train)} training examples from submitted reads in {study.slug}; at least {MIN_EXAMPLES} are needed"
        )
    max_seconds = float(params.get("max_seconds", 120))
    torch.manual_seed(int(params.get("seed", 0)))

    on_progress = _progress_adapter(progress, max_seconds, resumed_step)

    dropout = 0.1 if study.al_strategy in {"bald", "mc_variance"} else 0.0
    common = {
        "max_seconds": max_seconds,
        "max_steps": params.get("max_steps"),
        "device": params.get("device"),
        "progress": on_progress,
        "should_stop": should_stop,
        "checkpoint_path": checkpoint_path,
        "checkpoint_every": params.get("checkpoint_every", 50),
        "seed": int(params.get("seed", 0)),
        "batch_size": int(params.get("batch_size", 16)),
        "resume_from": resume_from,
    }
    if len(validation) > 0:
        common["val_fraction"] = 0.0
    model: Any
    if family == ModelFamily.SEGMENTATION and arch == "deepmedic":
        from atrium.learning.volume_segmenter import train_volume_segmenter

        model, history, config = train_volume_segmenter(
            train, validation, params=params, dropout=dropout, common=common
        )
    elif family == ModelFamily.SEGMENTATION:
        model_config = _slice_config(arch, params.get("size"), dropout)
        images, _ = pad_to_multiple(train.images)
        labels, _ = pad_to_multiple(train.labels)
        kwargs: dict[str, Any] = {}
        if len(validation) > 0:
            kwargs["val_images"], _ = pad_to_multiple(validation.images)
            kwargs["val_labels"], _ = pad_to_multiple(validation.labels)
        from ml.segmentation.train import Arch, train_segmenter

        common.pop("val_fraction", None)
        # `restarts`: retrain from a new initialisation while the validation Dice of some structure is below
        # 0.5 (a class the run never learnt to predict); off unless the job asks, as each run has the budget.
        restarts = parse_restarts(study, params)
        model, history = train_segmenter(
            images, labels, arch=cast(Arch, arch), config=model_config, restarts=restarts, **common, **kwargs
        )
        config = {
            "arch": arch,
            "model": model_config.to_dict(),
            "restarts": restarts,
            "runs": len(history.attempts),
        }
    else:
        from ml.classification.sononet import SonoNetConfig
        from ml.classification.sononet import tiny as sono_tiny

        base_cfg = sono_tiny() if params.get("size") == "tiny" else SonoNetConfig(input_size=(112, 144))
        sono_config = SonoNetConfig(**{**asdict(base_cfg), "dropout": dropout})
        kwargs = {}
        if len(validation) > 0:
            kwargs["val_frames"], kwargs["val_labels"] = validation.images, validation.labels
        from ml.classification.train import train_classifier

        common.pop("val_fraction", None)
        model, history = train_classifier(train.images, train.labels, config=sono_config, **common, **kwargs)
        config = {"model": sono_config.to_dict()}
    progress(0.96, "evaluating on the validation split", {})
    metrics = evaluate(family, model, validation if len(validation) else train)
    from atrium.learning.adaptation import metrics_by_group  # by_site / by_vendor breakdown (issue #10)

    metrics.update(metrics_by_group(family, model, validation if len(validation) else train))
    metrics["n_train"] = len(train)
    metrics["n_validation"] = len(validation)
    config.update(
        {
            "max_seconds": max_seconds,
            "source": source,
            "steps": history.step,
            "stopped": history.stopped,
            "resumed_from_step": history.resumed_from_step,
            "job": job_id,
        }
    )
    return register_model_version(
        study=study,
        family=family,
        model=model,
        config=config,
        training_set=train.annotation_versions,
        metrics=metrics,
        parent=latest_version(study, family),
        created_by=created_by,
    )


def _slice_config(arch: str, size: str | None, dropout: float) -> Any:
    """The 2D segmenter's configuration: FCN (`fast`, or `tiny` for tests) or U-Net."""
    if arch == "unet":
        from ml.segmentation.unet import UNetConfig
        from ml.segmentation.unet import tiny as unet_tiny

        return UNetConfig(**{**asdict(unet_tiny() if size == "tiny" else UNetConfig()), "dropout": dropout})
    from ml.segmentation.fcn import FCNConfig, fast, tiny

    return FCNConfig(**{**asdict(tiny() if size == "tiny" else fast()), "dropout": dropout})


def _resumable(checkpoint_path: Path | None) -> tuple[Path | None, int | None]:
    """(checkpoint to resume from, its step) when an earlier attempt left one, else (None, None)."""
    from ml.training.checkpoints import checkpoint_step

    if checkpoint_path is None or not checkpoint_path.exists():
        return None, None
    return checkpoint_path, checkpoint_step(checkpoint_path)


def _progress_adapter(
    progress: ProgressFn, max_seconds: float, resumed_step: int | None
) -> Callable[[Any], None]:
    """The Trainer's Progress as a job progress report (with `resumed_from_step` on a resumed run)."""

    def on_progress(p: Any) -> None:
        fraction = min(0.95, p.elapsed_s / max_seconds) if max_seconds else 0.0
        detail = {"step": p.step, "epoch": p.epoch, "loss": p.loss, "metrics": p.metrics, "eta_s": p.eta_s}
        if resumed_step is not None:
            detail["resumed_from_step"] = resumed_step
        suffix = f" (resumed from step {resumed_step})" if resumed_step is not None else ""
        progress(fraction, f"step {p.step}, loss {p.loss:.4f}{suffix}", detail)

    return on_progress


def _train_reconstruction(
    *,
    study: Study,
    params: dict[str, Any],
    progress: ProgressFn,
    should_stop: Callable[[], bool],
    checkpoint_path: Path | None,
    resume_from: Path | None,
    resumed_step: int | None,
    created_by: Any,
    job_id: int | None,
) -> ModelVersion:
    """A deep cascade trained on the study's fully sampled cines with simulated undersampling (frames for
    "2d", one cine per slice for "2d+t"), scored by PSNR/SSIM against zero filling on the validation split."""
    from atrium.learning.reconstruction import (
        DEFAULT_ACCELERATION,
        DEFAULT_CENTRE_LINES,
        centre_lines_for,
        pad_frames,
        training_cines,
    )
    from ml.reconstruction.cascade import DeepCascade
    from ml.reconstruction.train import evaluate as evaluate_cascade
    from ml.reconstruction.train import fit_cascade

    dims = params.get("dims", "2d")
    if dims not in ("2d", "2d+t"):
        raise ValueError(f"dims must be '2d' or '2d+t', got {dims!r}")
    acceleration = float(params.get("acceleration", DEFAULT_ACCELERATION))
    if not 2 <= acceleration <= 16:
        raise ValueError(f"training acceleration must be between 2 and 16, got {acceleration:g}")
    assign_validation_split(study)
    train_list = training_cines(study, split="train")
    val_list = training_cines(study, split="validation")
    every = train_list + val_list
    shape = (max((c.shape[-2] for c in every), default=1), max((c.shape[-1] for c in every), default=1))
    # Small frames at high accelerations sample fewer lines per frame than the usual fully sampled centre.
    centre_lines = int(
        params.get("centre_lines", centre_lines_for(shape[0], acceleration, DEFAULT_CENTRE_LINES))
    )
    train_cines = pad_frames(train_list, shape)
    val_cines = pad_frames(val_list, shape) if val_list else None
    n_frames = int(np.prod(train_cines.shape[:2])) if train_cines.size > 1 else 0
    if n_frames < MIN_EXAMPLES:
        raise NotEnoughData(
            f"only {n_frames} cine frames in {study.slug} to train a reconstruction model on; "
            f"at least {MIN_EXAMPLES} are needed"
        )
    if dims == "2d":
        train_images = train_cines.reshape(-1, *shape)
        val_images = val_cines.reshape(-1, *shape) if val_cines is not None else None
    else:
        train_images, val_images = train_cines, val_cines
    tiny = params.get("size") == "tiny"
    model = DeepCascade.tiny(dims) if tiny else DeepCascade(n_cascades=5, n_convs=5, n_filters=16, dims=dims)
    max_seconds = float(params.get("max_seconds", 120))
    seed = int(params.get("seed", 0))
    on_progress = _progress_adapter(progress, max_seconds, resumed_step)

    def log(entry: dict[str, Any]) -> None:
        from ml.training.trainer import Progress

        on_progress(Progress(int(entry["step"]), 0, entry["loss"], {}, None, entry["seconds"]))

    model, history, _ = fit_cascade(
        train_images, acceleration=acceleration, centre_lines=centre_lines, model=model,
        steps=params.get("max_steps"), batch_size=int(params.get("batch_size", 8)),
        lr=float(params.get("lr", 1e-3)), max_seconds=max_seconds, device=params.get("device"), seed=seed,
        progress=log, log_every=10, val_images=val_images, should_stop=should_stop,
        checkpoint_path=checkpoint_path, checkpoint_every=params.get("checkpoint_every", 50),
        resume_from=resume_from,
    )  # fmt: skip
    progress(0.96, "evaluating on the validation split", {})
    scored = val_cines if val_cines is not None else train_cines[:1]
    scores = evaluate_cascade(
        model.cpu(), scored, acceleration,
        seed=seed, centre_lines=centre_lines, include_cs=False,
    )  # fmt: skip
    metrics: dict[str, Any] = {
        "psnr_db_zero_filled": scores["psnr_db_zero_filled"],
        "psnr_db_cascade": scores["psnr_db_cascade"],
        "ssim_zero_filled": scores["ssim_zero_filled"],
        "ssim_cascade": scores["ssim_cascade"],
        "n_train": n_frames,
        "n_validation": int(np.prod(val_cines.shape[:2])) if val_cines is not None else 0,
    }
    config: dict[str, Any] = {
        "model": model.config,
        "dims": dims,
        "acceleration": acceleration,
        "centre_lines": centre_lines,
        "max_seconds": max_seconds,
        "source": "cines",
        "steps": history.step,
        "stopped": history.stopped,
        "resumed_from_step": history.resumed_from_step,
        "job": job_id,
    }
    return register_model_version(
        study=study,
        family=ModelFamily.RECONSTRUCTION,
        model=model,
        config=config,
        training_set=[],
        metrics=metrics,
        parent=latest_version(study, ModelFamily.RECONSTRUCTION),
        created_by=created_by,
    )
