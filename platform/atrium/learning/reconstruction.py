"""Reconstruction jobs: undersample a cine series' k-space, run a deep cascade on it, store the result as a
new derived series with its own case, and score zero-filled and reconstructed images against the source.

Also the cine images that reconstruction models train on. Pure orchestration over ml/reconstruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction

from atrium.imaging.models import Layout, Series, Source
from atrium.imaging.pixel_store import get_pixel_store
from atrium.learning.models import ModelFamily, ModelVersion
from atrium.studies.models import Case, Split, Study

ACCELERATION_MIN, ACCELERATION_MAX = 6.0, 11.0
RECONSTRUCT_PARAMS = frozenset({"case", "acceleration", "seed", "model_version"})
DEFAULT_ACCELERATION = 8.0
DEFAULT_CENTRE_LINES = 8

ProgressFn = Callable[[float, str, dict[str, Any]], None]


@dataclass(frozen=True)
class ReconstructParams:
    case: Case
    acceleration: float
    seed: int
    model_version: ModelVersion | None


def _number(params: dict[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def parse_reconstruct_params(study: Study, params: dict[str, Any]) -> ReconstructParams:
    """Check a reconstruct job's params; a ValueError names the first problem (the API answers 400)."""
    unknown = sorted(set(params) - RECONSTRUCT_PARAMS)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)}; expected {', '.join(sorted(RECONSTRUCT_PARAMS))}"
        )
    case_id = params.get("case")
    if isinstance(case_id, bool) or not isinstance(case_id, int):
        raise ValueError(f"case must be the id of a case of study {study.slug}, got {case_id!r}")
    case = Case.objects.filter(pk=case_id, study=study).select_related("series").first()
    if case is None:
        raise ValueError(f"case {case_id} is not a case of study {study.slug}")
    if case.series.layout != Layout.CINE:
        raise ValueError(
            f"case {case_id} is a {case.series.layout}, not a cine series; only cines are reconstructed"
        )
    acceleration = _number(params, "acceleration", DEFAULT_ACCELERATION)
    if not ACCELERATION_MIN <= acceleration <= ACCELERATION_MAX:
        raise ValueError(
            f"acceleration must be between {ACCELERATION_MIN:g} and {ACCELERATION_MAX:g}, got {acceleration:g}"
        )
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2^31), got {seed!r}")
    version = None
    version_id = params.get("model_version")
    if version_id is not None:
        if isinstance(version_id, bool) or not isinstance(version_id, int):
            raise ValueError(f"model_version must be a model version id, got {version_id!r}")
        version = ModelVersion.objects.filter(pk=version_id, study=study).first()
        if version is None:
            raise ValueError(f"model version {version_id} does not belong to study {study.slug}")
        if version.family != ModelFamily.RECONSTRUCTION:
            raise ValueError(
                f"model version {version_id} is a {version.family} model, not a reconstruction one"
            )
    return ReconstructParams(case=case, acceleration=acceleration, seed=seed, model_version=version)


# ---- images -----------------------------------------------------------------------------------------


def cine_magnitudes(series: Series) -> tuple[np.ndarray, float]:
    """The series as float32 (S, P, H, W) scaled to [0, 1] by its maximum, and that maximum."""
    array = np.asarray(get_pixel_store().open(series.store_key), dtype=np.float32)
    array = array.reshape(-1, int(series.shape[-3]) if len(series.shape) == 4 else 1, *series.frame_shape)
    scale = float(array.max()) or 1.0
    return array / scale, scale


def training_cines(study: Study, *, split: str) -> list[np.ndarray]:
    """Normalised (S, P, H, W) cines of the study's acquired (not reconstructed) cine series, by split:
    "validation" is the fixed validation split, "train" everything else."""
    cases = study.cases.filter(series__layout=Layout.CINE).exclude(series__source=Source.RECONSTRUCTION)
    cases = (
        cases.filter(split=Split.VALIDATION)
        if split == "validation"
        else cases.exclude(split=Split.VALIDATION)
    )
    return [cine_magnitudes(case.series)[0] for case in cases.select_related("series").order_by("pk")]


def pad_frames(cines: list[np.ndarray], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Zero-pad (centred) every cine's frames to a common (H, W) and stack: (sum of S, P, H, W).
    Cines with another phase count than the first are left out."""
    if not cines:
        return np.zeros((0, 1, 1, 1), dtype=np.float32)
    phases = cines[0].shape[1]
    kept = [c for c in cines if c.shape[1] == phases]
    height = shape[0] if shape else max(c.shape[-2] for c in kept)
    width = shape[1] if shape else max(c.shape[-1] for c in kept)
    out = []
    for cine in kept:
        top, left = (height - cine.shape[-2]) // 2, (width - cine.shape[-1]) // 2
        padded = np.zeros((*cine.shape[:2], height, width), dtype=np.float32)
        padded[..., top : top + cine.shape[-2], left : left + cine.shape[-1]] = cine
        out.append(padded)
    return np.concatenate(out)


# ---- reconstruction of one case ----------------------------------------------------------------------


def centre_lines_for(height: int, acceleration: float, trained: int) -> int:
    """The fully sampled centre rows: the model's training value, fewer when a small frame at a high
    acceleration samples fewer lines per frame than that."""
    # Line counts are spread over the frames, so a frame may get one line fewer than height / acceleration.
    per_frame = int(height / acceleration)
    return max(1, min(trained, per_frame - 1))


def undersample_cine(
    cine: np.ndarray, acceleration: float, seed: int, centre_lines: int
) -> tuple[np.ndarray, Any, Any, Any]:
    """cine: (S, P, H, W) magnitudes. One variable-density line mask per slice (each phase its own draw,
    seed + slice). Returns (masks (S, P, H, W), x_zf (S, 2, P, H, W), k0 complex (S, P, H, W), target)."""
    import torch

    from ml.reconstruction.masks import cartesian_mask
    from ml.reconstruction.simulate import undersample

    masks = np.stack(
        [cartesian_mask(cine.shape[1:], acceleration, centre_lines, seed + s) for s in range(cine.shape[0])]
    )
    target = torch.from_numpy(np.ascontiguousarray(cine)).to(torch.complex64)
    x_zf, k0 = undersample(target, torch.from_numpy(masks))
    return masks, x_zf, k0, target


def run_cascade(model: Any, x_zf: Any, k0: Any, masks: np.ndarray, progress: ProgressFn) -> np.ndarray:
    """Reconstruct slice by slice. x_zf (S, 2, P, H, W), k0 (S, P, H, W) -> magnitudes (S, P, H, W)."""
    import torch

    from ml.reconstruction.fft import real_to_complex
    from ml.reconstruction.train import reconstruct

    n_slices, _, phases, height, width = x_zf.shape
    mask_t = torch.from_numpy(masks)
    out = []
    for s in range(n_slices):
        if model.dims == "2d":
            # Every phase is a sample of its own.
            x = x_zf[s].transpose(0, 1)
            recon = reconstruct(model, x, k0[s], mask_t[s])
            out.append(real_to_complex(recon).abs().cpu().numpy())
        else:
            recon = reconstruct(model, x_zf[s : s + 1], k0[s : s + 1], mask_t[s : s + 1])
            out.append(real_to_complex(recon)[0].abs().cpu().numpy())
        progress(0.1 + 0.75 * (s + 1) / n_slices, f"reconstructed slice {s + 1}/{n_slices}", {"slice": s + 1})
    return np.stack(out).reshape(n_slices, phases, height, width)


def image_scores(source: np.ndarray, zero_filled: np.ndarray, reconstructed: np.ndarray) -> dict[str, float]:
    """PSNR (dB) and SSIM of zero-filled and reconstructed magnitudes against the source, each slice's
    cine a volume (its own maximum as the peak), averaged over slices."""
    from ml.metrics.image_quality import volume_metrics

    zf = volume_metrics(list(source), list(zero_filled))
    rc = volume_metrics(list(source), list(reconstructed))
    return {
        "psnr_db_zero_filled": round(zf.psnr, 3),
        "ssim_zero_filled": round(zf.ssim, 4),
        "nmse_zero_filled": round(zf.nmse, 5),
        "psnr_db_reconstructed": round(rc.psnr, 3),
        "ssim_reconstructed": round(rc.ssim, 4),
        "nmse_reconstructed": round(rc.nmse, 5),
    }


def _to_dtype(magnitudes: np.ndarray, scale: float, dtype: str) -> np.ndarray:
    values = magnitudes * scale
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        return np.clip(np.rint(values), info.min, info.max).astype(kind)
    return values.astype(kind)


def derived_series_uid(job_id: int, source: Series) -> str:
    """A UID fixed by the job, so a job taken up again after a crash finds the series it already stored."""
    from atrium.imaging.deid import pseudonymous_uid

    return pseudonymous_uid(f"{source.series_instance_uid}/reconstruct-job/{job_id}", "atrium-reconstruction")


def store_reconstruction(
    *, source_case: Case, array: np.ndarray, description: str, uid: str, title: str
) -> tuple[Series, Case]:
    """Write the array through the pixel store, then the derived series and its case in one transaction;
    the array is removed again if the rows cannot be written."""
    source = source_case.series
    store = get_pixel_store()
    key = store.new_key("series")
    store.write(key, array)
    try:
        with transaction.atomic():
            series = Series.objects.create(
                imaging_study=source.imaging_study,
                series_instance_uid=uid,
                modality=source.modality,
                description=description[:200],
                layout=source.layout,
                shape=list(array.shape),
                dtype=str(array.dtype),
                pixel_spacing_mm=source.pixel_spacing_mm,
                slice_thickness_mm=source.slice_thickness_mm,
                slice_spacing_mm=source.slice_spacing_mm,
                frame_time_ms=source.frame_time_ms,
                window_center=source.window_center,
                window_width=source.window_width,
                manufacturer=source.manufacturer,
                source=Source.RECONSTRUCTION,
                store_key=key,
                derived_from=source,
            )
            case = Case.objects.create(
                study=source_case.study,
                series=series,
                title=title[:200],
                ed_phase=source_case.ed_phase,
                es_phase=source_case.es_phase,
                site=source_case.site,
                vendor=source_case.vendor,
            )
    except BaseException:
        store.delete(key)
        raise
    return series, case


def reconstruct_case(
    *,
    job_id: int,
    case: Case,
    version: ModelVersion,
    acceleration: float,
    seed: int,
    progress: ProgressFn,
) -> dict[str, Any]:
    """Undersample the case's cine at `acceleration`, reconstruct it with `version`, store the result as a
    derived series (same geometry and dtype) with a case of its own, and return the job's result."""
    from atrium.learning.model_builders import load_model
    from ml.reconstruction.baselines import zero_filled
    from ml.reconstruction.masks import achieved_acceleration
    from ml.training.devices import pick_device

    source = case.series
    uid = derived_series_uid(job_id, source)
    existing = Series.objects.filter(series_instance_uid=uid).first()
    progress(0.02, f"loading {version.family} v{version.number} and the source cine", {})
    cine, scale = cine_magnitudes(source)
    model = load_model(version, pick_device())
    trained_centre = int(version.config.get("centre_lines", DEFAULT_CENTRE_LINES))
    centre = centre_lines_for(cine.shape[-2], acceleration, trained_centre)
    masks, x_zf, k0, _ = undersample_cine(cine, acceleration, seed, centre)
    progress(0.1, f"undersampled {acceleration:g}x ({achieved_acceleration(masks):.2f}x achieved)", {})
    zf = zero_filled(k0).abs().numpy()
    recon = run_cascade(model, x_zf, k0, masks, progress)
    scores = image_scores(cine, zf, recon)
    progress(0.9, "storing the reconstructed series", scores)
    description = (
        f"Deep-cascade reconstruction, {version.family} v{version.number}, "
        f"{acceleration:g}x undersampled (seed {seed})"
    )
    if existing is None:
        series, derived = store_reconstruction(
            source_case=case,
            array=_to_dtype(recon.reshape(source.shape), scale, source.dtype),
            description=description,
            uid=uid,
            title=f"{case.title} · recon v{version.number} {acceleration:g}x",
        )
    else:
        series, derived = existing, Case.objects.get(series=existing, study=case.study)
    return {
        "series": series.pk,
        "case": derived.pk,
        "source_series": source.pk,
        "source_case": case.pk,
        "model_version": version.pk,
        "model_number": version.number,
        "acceleration": acceleration,
        "achieved_acceleration": round(achieved_acceleration(masks), 3),
        "centre_lines": centre,
        "seed": seed,
        "description": description,
        **scores,
    }


def validated_reconstruct_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """The API's check: the params with their defaults filled in, or a 400 naming the problem."""
    from rest_framework.exceptions import ValidationError

    try:
        parsed = parse_reconstruct_params(study, params)
    except ValueError as exc:
        raise ValidationError({"params": str(exc)}) from None
    out: dict[str, Any] = {"case": parsed.case.pk, "acceleration": parsed.acceleration, "seed": parsed.seed}
    if parsed.model_version is not None:
        out["model_version"] = parsed.model_version.pk
    return out
