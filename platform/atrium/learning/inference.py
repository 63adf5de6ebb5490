"""Run a model version over a study's cases: store predictions (each records its model version) and the
per-case uncertainty that active learning ranks the queue by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from django.db import transaction

from atrium.imaging.pixel_store import get_pixel_store
from atrium.learning.examples import pad_to_multiple, windowed
from atrium.learning.model_builders import load_model
from atrium.learning.models import ModelFamily, ModelVersion, Prediction
from atrium.studies.models import Case

ProgressFn = Callable[[float, str, dict[str, Any]], None]
CONTOUR_TOLERANCE_PX = 0.35


@torch.inference_mode()
def _segment_probs(
    model: torch.nn.Module, images: np.ndarray, batch_size: int = 16
) -> tuple[np.ndarray, torch.Tensor]:
    """(N, H, W) in [0, 1] -> softmax probabilities (N, 4, H, W) float32, and the model inputs."""
    from ml.training.inference import normalise_per_image

    padded, (height, width) = pad_to_multiple(images)
    inputs = normalise_per_image(torch.from_numpy(np.ascontiguousarray(padded)).unsqueeze(1))
    out = []
    for start in range(0, inputs.shape[0], batch_size):
        out.append(
            torch.softmax(model(inputs[start : start + batch_size]).float(), dim=1)[
                ..., :height, :width
            ].numpy()
        )
    return np.concatenate(out, axis=0), inputs


def label_map_contours(labels: np.ndarray) -> list[dict[str, Any]]:
    """(S, P, H, W) labels -> contour dicts shaped like annotation data, simplified for drawing."""
    from ml.segmentation.contours import label_map_to_contours, simplify

    out = []
    for slice_index in range(labels.shape[0]):
        for phase in range(labels.shape[1]):
            for structure, polygons in label_map_to_contours(labels[slice_index, phase]).items():
                if not polygons:
                    continue
                polygon = simplify(polygons[0], CONTOUR_TOLERANCE_PX)
                if len(polygon) < 3:
                    continue
                out.append(
                    {
                        "structure": structure,
                        "slice": slice_index,
                        "phase": phase,
                        "points": np.round(polygon, 2).tolist(),
                        "mode": "freehand",
                    }
                )
    return out


def predict_case(
    case: Case, version: ModelVersion, model: torch.nn.Module
) -> tuple[Prediction, np.ndarray, torch.Tensor]:
    """Predict one case; returns the stored prediction, per-item class probabilities (for scoring):
    (S*P, 4, H, W) for a cine, (F, 14) for a clip, and the model inputs (for MC dropout / TTA): (N, 1, H, W)
    frames, or for the 3D segmenter (P, S, H, W) short-axis volumes, one per phase."""
    store = get_pixel_store()
    series = case.series
    array = np.asarray(store.open(series.store_key))
    if version.family == ModelFamily.SEGMENTATION:
        if version.config.get("arch") == "deepmedic":
            from atrium.learning.volume_segmenter import case_probabilities, stack_volumes

            volumes = stack_volumes(windowed(array, series))
            probs = case_probabilities(model, volumes)  # type: ignore[arg-type]
            inputs = torch.from_numpy(volumes)
        else:
            frames = windowed(array.reshape(-1, *series.frame_shape), series)
            probs, inputs = _segment_probs(model, frames)
        labels = probs.argmax(axis=1).astype(np.uint8).reshape(series.shape)
        key = store.new_key("predictions")
        store.write(key, labels)
        data = {"store_key": key, "contours": label_map_contours(labels)}
        kind = "label_map"
    else:
        from ml.classification.infer import predict_probs, preprocess_frames
        from ml.data.planes import PLANES

        size = tuple(model.config.input_size)  # type: ignore[union-attr, arg-type]
        inputs = preprocess_frames(windowed(array, series), size)
        probs = predict_probs(model, inputs, torch.device("cpu"))
        best = probs.argmax(axis=1)
        data = {
            "frames": [
                {
                    "frame": i,
                    "plane": PLANES[int(b)],
                    "confidence": round(float(probs[i, b]), 4),
                    "probs": np.round(probs[i], 4).tolist(),
                }
                for i, b in enumerate(best)
            ]
        }
        kind = "plane_probs"
    with transaction.atomic():
        old = list(Prediction.objects.filter(case=case, model_version=version))
        prediction = Prediction.objects.create(case=case, model_version=version, kind=kind, data=data)
        Prediction.objects.filter(pk__in=[p.pk for p in old]).delete()

        def remove_old_arrays() -> None:
            for p in old:
                store.delete(p.data.get("store_key", ""))

        transaction.on_commit(remove_old_arrays)
    return prediction, probs, inputs


def observer_labels(case: Case) -> tuple[np.ndarray, np.ndarray] | None:
    """The first submitted reader's labels per item ((S*P, H, W) masks or (F,) planes) and which items
    they cover, or None when nobody has submitted a read of the case."""
    from atrium.annotations.models import Annotation
    from atrium.studies.models import AssignmentStatus

    reads = Annotation.objects.filter(case=case, deleted=False, assignment__status=AssignmentStatus.SUBMITTED)
    first = reads.order_by("assignment__submitted_at", "id").values_list("assignment_id", flat=True).first()
    if first is None:
        return None
    reads = reads.filter(assignment_id=first)
    series = case.series
    if series.layout == "cine":
        from ml.segmentation.contours import contours_to_label_map

        n_phases = int(series.shape[1])
        n_items = int(series.shape[0]) * n_phases
        labels = np.zeros((n_items, *series.frame_shape), np.uint8)
        covered = np.zeros(n_items, bool)
        grouped: dict[int, dict[str, list[np.ndarray]]] = {}
        for annotation in reads.filter(kind="contour"):
            item = annotation.data["slice"] * n_phases + annotation.data["phase"]
            grouped.setdefault(item, {}).setdefault(annotation.data["structure"], []).append(
                np.asarray(annotation.data["points"], dtype=np.float64)
            )
        for item, structures in grouped.items():
            if {"lv_endo", "lv_epi"} <= set(structures):
                labels[item] = contours_to_label_map(structures, series.frame_shape)
                covered[item] = True
        return labels, covered
    from ml.data.planes import PLANES

    planes = np.zeros(int(series.shape[0]), np.int64)
    covered = np.zeros(int(series.shape[0]), bool)
    for annotation in reads.filter(kind="plane_label"):
        start, stop = annotation.data["frame_start"], annotation.data["frame_stop"] + 1
        planes[start:stop] = PLANES.index(annotation.data["plane"])
        covered[start:stop] = True
    return planes, covered


def infer_study(
    *,
    version: ModelVersion,
    cases: Any,
    strategy: str,
    progress: ProgressFn,
) -> Any:
    """Predict every case and collect the evidence `strategy` scores them by (a scoring.PoolEvidence)."""
    from atrium.learning.scoring import PoolEvidence, add_case

    model = load_model(version)
    cases = list(cases.select_related("series", "study"))
    evidence = PoolEvidence()
    for index, case in enumerate(cases):
        prediction, probs, inputs = predict_case(case, version, model)
        observed = observer_labels(case) if strategy == "disagreement" else None
        add_case(
            evidence,
            strategy=strategy,
            case_id=case.pk,
            probs=probs,
            model=model,
            inputs=inputs,
            observer=observed[0] if observed else None,
            has_observer=observed[1] if observed else None,
        )
        from annotation_ui.groups import case_group, push

        push(
            case_group(case.pk),
            "prediction.new",
            {"case": case.pk, "model_version": version.number, "prediction": prediction.pk},
        )
        progress(
            (index + 1) / max(len(cases), 1) * 0.9,
            f"predicted {index + 1}/{len(cases)} cases",
            {"cases": index + 1},
        )
    return evidence
