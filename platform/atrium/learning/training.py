"""Train a model for a study from its submitted annotations, evaluate it on the fixed validation split,
and register it. Called by the `train` job handler; pure orchestration over ml/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

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


def family_for(study: Study) -> str:
    return ModelFamily.CLASSIFICATION if study.task_kind == TaskKind.ULTRASOUND else ModelFamily.SEGMENTATION


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
        from ml.segmentation.infer import segment_images

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
) -> ModelVersion:
    import torch

    from ml.training.trainer import Progress

    family = params.get("family") or family_for(study)
    source = params.get("source", "annotations")
    train = gather_examples(study, split="train", source=source)
    validation = gather_examples(study, split="validation", source=source)
    if len(train) < MIN_EXAMPLES:
        raise NotEnoughData(
            f"only {len(train)} training examples from submitted reads in {study.slug}; at least {MIN_EXAMPLES} are needed"
        )
    max_seconds = float(params.get("max_seconds", 120))
    torch.manual_seed(int(params.get("seed", 0)))

    def on_progress(p: Progress) -> None:
        fraction = min(0.95, p.elapsed_s / max_seconds) if max_seconds else 0.0
        progress(
            fraction,
            f"step {p.step}, loss {p.loss:.4f}",
            {"step": p.step, "epoch": p.epoch, "loss": p.loss, "metrics": p.metrics, "eta_s": p.eta_s},
        )

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
    }
    if len(validation) > 0:
        common["val_fraction"] = 0.0
    if family == ModelFamily.SEGMENTATION:
        from ml.segmentation.fcn import FCNConfig, fast, tiny

        base = tiny() if params.get("size") == "tiny" else fast()
        model_config = FCNConfig(**{**asdict(base), "dropout": dropout})
        images, _ = pad_to_multiple(train.images)
        labels, _ = pad_to_multiple(train.labels)
        kwargs: dict[str, Any] = {}
        if len(validation) > 0:
            kwargs["val_images"], _ = pad_to_multiple(validation.images)
            kwargs["val_labels"], _ = pad_to_multiple(validation.labels)
        from ml.segmentation.train import train_segmenter

        common.pop("val_fraction", None)
        model, history = train_segmenter(images, labels, arch="fcn", config=model_config, **common, **kwargs)
        config: dict[str, Any] = {"arch": "fcn", "model": model_config.to_dict()}
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
    metrics["n_train"] = len(train)
    metrics["n_validation"] = len(validation)
    config.update(
        {"max_seconds": max_seconds, "source": source, "steps": history.step, "stopped": history.stopped}
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
