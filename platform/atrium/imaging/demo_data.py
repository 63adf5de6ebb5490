"""The synthetic demo set: cardiac cine stacks and fetal-ultrasound clips, written as DICOM with a manifest.

manifest.json records, per series, the original SeriesInstanceUID and the ground-truth file, so that after
ingest (which remaps UIDs) the ground truth can be attached to the right series.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from atrium.imaging.synthetic_dicom import write_cardiac_cine, write_ultrasound_clip

VENDOR_CYCLE = ("siemens", "ge", "philips")


def make_demo_data(
    out_dir: Path,
    *,
    seed: int,
    n_cardiac: int = 6,
    n_ultrasound: int = 6,
    size: int = 128,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from ml.data.cardiac_phantom import make_cardiac_cine
    from ml.data.ultrasound_clip import make_ultrasound_clip
    from ml.data.vendors import VENDORS

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    manifest: dict[str, Any] = {"seed": seed, "cardiac": [], "ultrasound": []}
    for i in range(n_cardiac):
        vendor = VENDOR_CYCLE[i % len(VENDOR_CYCLE)]
        n_slices, n_phases = int(rng.integers(8, 13)), int(rng.integers(20, 31))
        cine = make_cardiac_cine(
            seed * 1000 + i, n_slices=n_slices, n_phases=n_phases, size=size, vendor=vendor
        )
        folder = out_dir / "cardiac" / f"sax_{i:03d}"
        series_uid = write_cardiac_cine(
            folder,
            cine.image,
            seed=seed,
            index=i,
            manufacturer=VENDORS[vendor].name,
            pixel_spacing_mm=cine.pixel_spacing_mm,
            slice_thickness_mm=cine.slice_thickness_mm,
            slice_spacing_mm=cine.slice_spacing_mm,
            trigger_times_ms=cine.trigger_times_ms,
            institution=f"Site {vendor.upper()}",
        )
        np.save(folder / "labels.npy", cine.labels)
        manifest["cardiac"].append(
            {
                "series_uid": series_uid,
                "labels": str((folder / "labels.npy").relative_to(out_dir)),
                "vendor": vendor,
                "site": f"site-{vendor}",
                "shape": list(cine.image.shape),
                "ed_phase": int(cine.ed_phase),
                "es_phase": int(cine.es_phase),
            }
        )
        if progress:
            progress(f"cardiac {i + 1}/{n_cardiac}: {n_slices} slices x {n_phases} phases ({vendor})")
    for i in range(n_ultrasound):
        vendor = VENDOR_CYCLE[(i + 1) % len(VENDOR_CYCLE)]
        rgb = i % 3 == 2  # some machines export RGB
        clip = make_ultrasound_clip(seed * 1000 + 500 + i, n_frames=60, vendor=vendor, rgb=rgb)
        path = out_dir / "ultrasound" / f"clip_{i:03d}.dcm"
        series_uid = write_ultrasound_clip(
            path,
            clip.frames,
            seed=seed,
            index=i,
            manufacturer=VENDORS[vendor].name,
            frame_time_ms=clip.frame_time_ms,
            pixel_spacing_mm=clip.pixel_spacing_mm,
            institution=f"Site {vendor.upper()}",
        )
        labels_path = out_dir / "ultrasound" / f"clip_{i:03d}_labels.npy"
        np.save(labels_path, clip.labels.astype(np.uint8))
        manifest["ultrasound"].append(
            {
                "series_uid": series_uid,
                "labels": str(labels_path.relative_to(out_dir)),
                "vendor": vendor,
                "site": f"site-{vendor}",
                "rgb": rgb,
                "n_frames": int(clip.frames.shape[0]),
            }
        )
        if progress:
            progress(
                f"ultrasound {i + 1}/{n_ultrasound}: {clip.frames.shape[0]} frames ({vendor}{', RGB' if rgb else ''})"
            )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def attach_demo_ground_truth(*, study: Any, root: Path) -> int:
    """Attach the manifest's ground truth to the ingested series of `study`. Returns how many were attached."""
    from atrium.imaging.deid import pseudonymous_uid
    from atrium.imaging.models import Series
    from atrium.imaging.services import attach_reference_labels

    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        return 0
    manifest = json.loads(manifest_path.read_text())
    attached = 0
    for entry in [*manifest.get("cardiac", []), *manifest.get("ultrasound", [])]:
        uid = pseudonymous_uid(entry["series_uid"], study.deid_salt)
        series = Series.objects.filter(series_instance_uid=uid, cases__study=study).first()
        if series is None:
            continue
        attach_reference_labels(series=series, labels=np.load(root / entry["labels"]))
        series.cases.filter(study=study).update(site=entry.get("site", ""))
        attached += 1
    return attached
