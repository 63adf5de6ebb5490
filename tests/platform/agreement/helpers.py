"""Small hand-made reads: squares of known size on a 2-slice, 3-phase, 16 x 16 cine (1.5 mm pixels, 8 mm
slices, so one voxel is 0.018 mL)."""

from __future__ import annotations

from typing import Any

import numpy as np

VOXEL_ML = 1.5 * 1.5 * 8.0 / 1000.0


def square(r0: int, r1: int, c0: int, c1: int) -> list[list[float]]:
    """A polygon whose fill is exactly rows r0..r1 and columns c0..c1 (inclusive)."""
    return [[c0 - 0.5, r0 - 0.5], [c1 + 0.5, r0 - 0.5], [c1 + 0.5, r1 + 0.5], [c0 - 0.5, r1 + 0.5]]


def cardiac_case(study: Any, **kwargs: Any) -> Any:
    from tests.factories import CaseFactory, SeriesFactory

    series = SeriesFactory(imaging_study__patient__study=study, shape=[2, 3, 16, 16])
    return CaseFactory(study=study, series=series, **kwargs)


def draw(
    case: Any, user: Any, structure: str, slices: range, phase: int, box: tuple[int, int, int, int]
) -> None:
    from atrium.annotations.services import create_annotation

    for s in slices:
        create_annotation(
            case=case,
            author=user,
            kind="contour",
            data={"structure": structure, "slice": s, "phase": phase, "points": square(*box)},
        )


def standard_read(
    case: Any, user: Any, *, lv_ed: tuple[int, int, int, int] = (2, 5, 2, 5), rv_es: bool = True
) -> None:
    """LV endo 4x4 (or `lv_ed`), epi 6x6 and RV 4x4 at ED (phase 0); LV 2x2 and RV 3x3 at ES (phase 2)."""
    from atrium.annotations.services import create_annotation

    both = range(2)
    draw(case, user, "lv_endo", both, 0, lv_ed)
    draw(case, user, "lv_epi", both, 0, (1, 6, 1, 6))
    draw(case, user, "rv_endo", both, 0, (8, 11, 2, 5))
    draw(case, user, "lv_endo", both, 2, (3, 4, 3, 4))
    draw(case, user, "lv_epi", both, 2, (1, 6, 1, 6))
    if rv_es:
        draw(case, user, "rv_endo", both, 2, (8, 10, 2, 4))
    create_annotation(case=case, author=user, kind="phases", data={"ed_phase": 0, "es_phase": 2})


def label_map_prediction(
    case: Any, labels: np.ndarray, number: int = 1, round_number: int | None = None
) -> Any:
    from atrium.imaging.pixel_store import get_pixel_store
    from atrium.learning.models import ModelVersion, Prediction, Round

    store = get_pixel_store()
    key = store.new_key("labels")
    store.write(key, np.asarray(labels, dtype=np.uint8))
    version, _ = ModelVersion.objects.get_or_create(study=case.study, family="segmentation", number=number)
    if round_number is not None:
        Round.objects.get_or_create(
            study=case.study, number=round_number, defaults={"model_version": version, "strategy": "entropy"}
        )
    return Prediction.objects.create(
        case=case, model_version=version, kind="label_map", data={"store_key": key}
    )
