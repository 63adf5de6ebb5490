"""NIfTI short-axis cine stacks (UK Biobank / ACDC layouts) read through nibabel, with declared label maps.

Platform labels are 1 LV blood pool, 2 LV myocardium, 3 RV blood pool. A file's own label values are mapped
through a mapping the caller declares ("ukbb", "acdc" or "1:LV,2:Myo,3:RV"); they are never guessed.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from atrium.imaging.errors import IngestError

PLATFORM_LABELS = {"LV": 1, "MYO": 2, "RV": 3}
LABEL_PRESETS = {"ukbb": "1:LV,2:Myo,3:RV", "acdc": "1:RV,2:Myo,3:LV"}
NIFTI_SUFFIXES = (".nii", ".nii.gz")
# ACDC per-phase volumes: patient001_frame01.nii.gz, with the label map patient001_frame01_gt.nii.gz.
ACDC_FRAME = re.compile(r"^(?P<subject>.+)_frame(?P<number>\d+)(?P<gt>_gt)?\.nii(?:\.gz)?$", re.IGNORECASE)


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


def _load(path: Path) -> tuple[np.ndarray, Any]:
    """(voxel data, nibabel image). Raises IngestError naming the file when nibabel cannot read it."""
    try:
        nii = nib.load(str(path))
        return np.asanyarray(nii.dataobj), nii  # type: ignore[attr-defined]
    except Exception as exc:  # nibabel raises many types for bad files
        raise IngestError(str(path), f"cannot be read as NIfTI ({type(exc).__name__}: {exc})") from None


def _spacing(nii: Any) -> tuple[list[float], float, float | None]:
    """([row, column] spacing in mm, slice spacing in mm, frame time in ms or None) from the header."""
    zooms = [float(z) for z in nii.header.get_zooms()]
    spatial_unit, time_unit = nii.header.get_xyzt_units()
    scale = {"meter": 1000.0, "micron": 0.001}.get(spatial_unit or "mm", 1.0)
    dx, dy, dz = (zooms[i] * scale for i in range(3))
    frame_time = None
    if len(nii.shape) == 4 and len(zooms) > 3 and zooms[3] > 0:
        frame_time = zooms[3] * {"sec": 1000.0, "usec": 0.001}.get(time_unit or "msec", 1.0)
    return [dy, dx], dz, frame_time


def _label_values(seg_path: Path, mapping: dict[int, int] | None) -> np.ndarray:
    """The label map's voxels mapped to platform labels; refuses a missing mapping and non-integer values."""
    if mapping is None:
        raise IngestError(
            str(seg_path), "a label map needs a declared label mapping (--labels ukbb|acdc|1:LV,...)"
        )
    seg, _ = _load(seg_path)
    if not np.array_equal(np.round(seg), seg):
        raise IngestError(str(seg_path), "holds non-integer values; a label map needs integer labels")
    return remap_labels(seg, mapping, str(seg_path))


def load_nifti_cine(
    image_path: Path, seg_path: Path | None = None, mapping: dict[int, int] | None = None
) -> NiftiCine:
    """Read a cine stack and its optional segmentation. Raises IngestError naming the file and the problem."""
    raw, image_nii = _load(image_path)
    if raw.ndim not in (3, 4):
        raise IngestError(str(image_path), f"has shape {raw.shape}; expected (X, Y, Z) or (X, Y, Z, T)")
    affine = image_nii.affine
    image = to_slice_phase(_pixel_dtype(raw), affine)
    spacing, dz, frame_time = _spacing(image_nii)
    labels = None
    if seg_path is not None:
        seg = _label_values(seg_path, mapping)
        if seg.shape[:3] != raw.shape[:3] or (seg.ndim == 4 and seg.shape != raw.shape):
            raise IngestError(
                str(seg_path), f"has shape {seg.shape}, which does not match the image {raw.shape}"
            )
        if seg.ndim == 3 and raw.ndim == 4:
            raise IngestError(
                str(seg_path), "is 3D but the image is a cine; give a label map for every phase"
            )
        labels = to_slice_phase(seg, affine)
    return NiftiCine(
        image=image,
        labels=labels,
        pixel_spacing_mm=spacing,
        slice_thickness_mm=dz,
        slice_spacing_mm=dz,
        frame_time_ms=frame_time,
    )


@dataclass
class AcdcFrames:
    """An ACDC subject: 3D volumes, one per frame number, with optional _gt label maps and Info.cfg."""

    subject: str
    folder: Path
    images: dict[int, Path]
    labels: dict[int, Path]
    info: Path | None


@dataclass
class AcdcCine:
    """cine: phases are the given frames in frame-number order; ed/es_phase are phase indices or None."""

    cine: NiftiCine
    frame_numbers: list[int]
    ed_phase: int | None
    es_phase: int | None


def acdc_frame_match(path: Path) -> re.Match[str] | None:
    return ACDC_FRAME.match(path.name)


def find_acdc_sets(root: Path) -> list[AcdcFrames]:
    """ACDC subjects under `root`, grouped by folder and subject; or `root` itself, one frame file."""
    if root.is_file():
        match = acdc_frame_match(root)
        if match is None:
            return []
        if match["gt"]:
            raise IngestError(str(root), "is an ACDC label map (_gt); name its image frame or the folder")
        candidates = [root] + [
            path
            for path in root.parent.glob(f"{glob.escape(match['subject'])}_frame*_gt.nii*")
            if (m := acdc_frame_match(path)) and int(m["number"]) == int(match["number"])
        ]
    else:
        candidates = sorted(root.rglob("*_frame*.nii*"))
    sets: dict[tuple[Path, str], AcdcFrames] = {}
    for path in candidates:
        match = acdc_frame_match(path)
        if match is None:
            continue
        info = path.parent / "Info.cfg"
        entry = sets.setdefault(
            (path.parent, match["subject"]),
            AcdcFrames(
                subject=match["subject"],
                folder=path.parent,
                images={},
                labels={},
                info=info if info.is_file() else None,
            ),
        )
        number = int(match["number"])
        kind = entry.labels if match["gt"] else entry.images
        if number in kind:
            raise IngestError(str(path), f"frame {number} is given twice (also as {kind[number].name})")
        kind[number] = path
    return list(sets.values())


def read_info_cfg(path: Path) -> dict[str, str]:
    """ACDC Info.cfg ("ED: 1" lines) as a dict of upper-case keys."""
    values = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise IngestError(str(path), f"cannot be read ({exc})") from None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip().upper()] = value.strip()
    return values


def _ed_es(
    subject: AcdcFrames, numbers: list[int], ed: int | None, es: int | None
) -> tuple[int | None, int | None]:
    """Phase indices of ED and ES: from Info.cfg if it names them, else from the given frame numbers."""
    info = read_info_cfg(subject.info) if subject.info is not None else {}
    phases: list[int | None] = []
    for name, given in (("ED", ed), ("ES", es)):
        frame = given
        if name in info:
            try:
                frame = int(info[name])
            except ValueError:
                raise IngestError(
                    str(subject.info), f"{name} must be a frame number, got {info[name]!r}"
                ) from None
            if given is not None and given != frame:
                raise IngestError(
                    str(subject.info), f"says {name} is frame {frame}, but frame {given} was given for {name}"
                )
        if frame is None:
            phases.append(None)
            continue
        if frame not in numbers:
            raise IngestError(
                str(subject.folder / subject.subject),
                f"{name} is frame {frame}, which is not among the given frames {numbers}",
            )
        phases.append(numbers.index(frame))
    return phases[0], phases[1]


def load_acdc_cine(
    subject: AcdcFrames,
    mapping: dict[int, int] | None = None,
    *,
    ed: int | None = None,
    es: int | None = None,
) -> AcdcCine:
    """One (S, P, H, W) cine from per-frame 3D volumes: phase p is the p-th given frame number."""
    numbers = sorted(subject.images)
    if not numbers:
        raise IngestError(str(subject.folder / subject.subject), "has label maps (_gt) but no image frames")
    volumes, reference = [], None
    for number in numbers:
        path = subject.images[number]
        raw, nii = _load(path)
        if raw.ndim == 4 and raw.shape[3] == 1:
            raw = raw[..., 0]
        if raw.ndim != 3:
            kind = "2D" if raw.ndim == 2 else f"{raw.ndim}D"
            raise IngestError(
                str(path), f"is {kind} (shape {raw.shape}); an ACDC frame must be one 3D volume (X, Y, Z)"
            )
        if reference is None:
            reference = (path, raw.shape, [float(z) for z in nii.header.get_zooms()[:3]], nii)
        elif raw.shape != reference[1]:
            raise IngestError(
                str(path),
                f"has shape {raw.shape}, but {reference[0].name} has {reference[1]}; every frame "
                "of a subject must share one grid",
            )
        elif not np.allclose(nii.header.get_zooms()[:3], reference[2], rtol=1e-3):
            raise IngestError(
                str(path),
                f"has voxel size {tuple(nii.header.get_zooms()[:3])}, but {reference[0].name} has "
                f"{tuple(reference[2])}",
            )
        volumes.append(raw)
    assert reference is not None
    affine = reference[3].affine
    stacked = np.stack(volumes, axis=-1)  # (X, Y, Z, P)
    image = to_slice_phase(_pixel_dtype(stacked), affine)
    labels = None
    if subject.labels:
        unlabelled = sorted(set(numbers) - set(subject.labels))
        orphans = sorted(set(subject.labels) - set(numbers))
        if unlabelled or orphans:
            raise IngestError(
                str(subject.folder / subject.subject),
                f"has label maps (_gt) for frames {sorted(subject.labels)} but image frames {numbers}; "
                "give a label map for every frame or for none",
            )
        maps = []
        for number in numbers:
            seg = _label_values(subject.labels[number], mapping)
            if (
                seg.shape[:3] != reference[1]
                or seg.ndim not in (3, 4)
                or (seg.ndim == 4 and seg.shape[3] != 1)
            ):
                raise IngestError(
                    str(subject.labels[number]),
                    f"has shape {seg.shape}, which does not match its frame {reference[1]}",
                )
            maps.append(seg.reshape(reference[1]))
        labels = to_slice_phase(np.stack(maps, axis=-1), affine)
    spacing, dz, _ = _spacing(reference[3])
    ed_phase, es_phase = _ed_es(subject, numbers, ed, es)
    cine = NiftiCine(
        image=image,
        labels=labels,
        pixel_spacing_mm=spacing,
        slice_thickness_mm=dz,
        slice_spacing_mm=dz,
        frame_time_ms=None,  # the frames are a few chosen phases, not an evenly sampled cine
    )
    return AcdcCine(cine=cine, frame_numbers=numbers, ed_phase=ed_phase, es_phase=es_phase)


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
