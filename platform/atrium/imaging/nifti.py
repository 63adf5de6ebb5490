"""NIfTI short-axis cine stacks (UK Biobank / ACDC layouts) read through nibabel, with declared label maps.

Platform labels are 1 LV blood pool, 2 LV myocardium, 3 RV blood pool. A file's own label values are mapped
through a mapping the caller declares ("ukbb", "acdc" or "1:LV,2:Myo,3:RV"); they are never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from atrium.imaging.errors import IngestError

PLATFORM_LABELS = {"LV": 1, "MYO": 2, "RV": 3}
LABEL_PRESETS = {"ukbb": "1:LV,2:Myo,3:RV", "acdc": "1:RV,2:Myo,3:LV"}
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass
class NiftiCine:
    """image: (S, P, H, W); labels: (S, P, H, W) uint8 in platform labels, or None."""

    image: np.ndarray
    labels: np.ndarray | None
    pixel_spacing_mm: list[float]
    slice_thickness_mm: float | None
    slice_spacing_mm: float | None
    frame_time_ms: float | None


def parse_label_mapping(text: str) -> dict[int, int]:
    """File label value -> platform label, from a preset name or "value:NAME,..." (NAME in LV, Myo, RV)."""
    spec = LABEL_PRESETS.get(text.strip().lower(), text)
    mapping: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        value, _, name = item.partition(":")
        platform = PLATFORM_LABELS.get(name.strip().upper())
        if not value.strip().isdigit() or platform is None:
            raise ValueError(
                f"bad label mapping item {item!r}: expected VALUE:NAME with NAME one of LV, Myo, RV "
                f"(or a preset: {', '.join(LABEL_PRESETS)})"
            )
        mapping[int(value)] = platform
    if not mapping:
        raise ValueError("empty label mapping")
    return mapping


def remap_labels(seg: np.ndarray, mapping: dict[int, int], source: str) -> np.ndarray:
    """Map file label values to platform labels; values outside the mapping (other than 0) are an error."""
    values = {int(v) for v in np.unique(seg)} - {0}
    unknown = sorted(values - set(mapping))
    if unknown:
        raise IngestError(source, f"label values {unknown} are not in the declared mapping {mapping}")
    lookup = np.zeros(max([*values, *mapping]) + 1, dtype=np.uint8)
    for value, platform in mapping.items():
        lookup[value] = platform
    return lookup[seg.astype(np.int64)]


def to_slice_phase(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(X, Y, Z[, T]) voxel data -> (S, P, H, W), slices ordered by position along the slice normal.

    Rows run along the voxel y axis and columns along x, as in DICOM conversions of short-axis stacks.
    """
    if data.ndim == 3:
        data = data[..., np.newaxis]
    if data.ndim != 4:
        raise ValueError(f"expected a 3D or 4D volume, got shape {data.shape}")
    out = np.transpose(data, (2, 3, 1, 0))
    normal = np.cross(affine[:3, 0], affine[:3, 1])
    if float(np.dot(affine[:3, 2], normal)) < 0:
        out = out[::-1]
    return np.ascontiguousarray(out)


def _pixel_dtype(image: np.ndarray) -> np.ndarray:
    """Keep integer images as int16/uint16; rescale anything else to 0..4095 uint16."""
    if np.issubdtype(image.dtype, np.integer) or np.array_equal(image, np.round(image)):
        low, high = float(image.min()), float(image.max())
        if low >= 0 and high <= 65535:
            return image.astype(np.uint16)
        if low >= -32768 and high <= 32767:
            return image.astype(np.int16)
    low, high = float(image.min()), float(image.max())
    scaled = (image.astype(np.float64) - low) / max(high - low, 1e-12) * 4095.0
    return np.rint(scaled).astype(np.uint16)


def load_nifti_cine(
    image_path: Path, seg_path: Path | None = None, mapping: dict[int, int] | None = None
) -> NiftiCine:
    """Read a cine stack and its optional segmentation. Raises IngestError naming the file and the problem."""
    try:
        image_nii = nib.load(str(image_path))
        raw = np.asanyarray(image_nii.dataobj)  # type: ignore[attr-defined]
    except Exception as exc:  # nibabel raises many types for bad files
        raise IngestError(str(image_path), f"cannot be read as NIfTI ({type(exc).__name__}: {exc})") from None
    if raw.ndim not in (3, 4):
        raise IngestError(str(image_path), f"has shape {raw.shape}; expected (X, Y, Z) or (X, Y, Z, T)")
    affine = image_nii.affine  # type: ignore[attr-defined]
    image = to_slice_phase(_pixel_dtype(raw), affine)
    zooms = [float(z) for z in image_nii.header.get_zooms()]  # type: ignore[attr-defined]
    spatial_unit, time_unit = image_nii.header.get_xyzt_units()  # type: ignore[attr-defined]
    scale = {"meter": 1000.0, "micron": 0.001}.get(spatial_unit or "mm", 1.0)
    dx, dy, dz = (zooms[i] * scale for i in range(3))
    frame_time = None
    if raw.ndim == 4 and len(zooms) > 3 and zooms[3] > 0:
        frame_time = zooms[3] * {"sec": 1000.0, "usec": 0.001}.get(time_unit or "msec", 1.0)
    labels = None
    if seg_path is not None:
        if mapping is None:
            raise IngestError(
                str(seg_path), "a label map needs a declared label mapping (--labels ukbb|acdc|1:LV,...)"
            )
        try:
            seg_nii = nib.load(str(seg_path))
            seg = np.asanyarray(seg_nii.dataobj)  # type: ignore[attr-defined]
        except Exception as exc:
            raise IngestError(
                str(seg_path), f"cannot be read as NIfTI ({type(exc).__name__}: {exc})"
            ) from None
        if seg.shape[:3] != raw.shape[:3] or (seg.ndim == 4 and seg.shape != raw.shape):
            raise IngestError(
                str(seg_path), f"has shape {seg.shape}, which does not match the image {raw.shape}"
            )
        if seg.ndim == 3 and raw.ndim == 4:
            raise IngestError(
                str(seg_path), "is 3D but the image is a cine; give a label map for every phase"
            )
        if not np.array_equal(np.round(seg), seg):
            raise IngestError(str(seg_path), "holds non-integer values; a label map needs integer labels")
        labels = to_slice_phase(remap_labels(seg, mapping, str(seg_path)), affine)
    return NiftiCine(
        image=image,
        labels=labels,
        pixel_spacing_mm=[dy, dx],
        slice_thickness_mm=dz,
        slice_spacing_mm=dz,
        frame_time_ms=frame_time,
    )


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def find_nifti_stacks(
    root: Path, image_name: str = "sa.nii.gz", seg_name: str = "seg_sa.nii.gz"
) -> list[tuple[Path, Path | None]]:
    """(image, segmentation or None) pairs: `root` itself if it is a NIfTI file, else every `image_name` below it."""
    if root.is_file():
        seg = root.with_name(seg_name)
        return [(root, seg if seg.exists() and seg != root else None)]
    pairs = []
    for image in sorted(root.rglob(image_name)):
        seg = image.with_name(seg_name)
        pairs.append((image, seg if seg.exists() else None))
    return pairs
