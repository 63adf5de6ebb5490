"""Benchmark: the agreement report for 600 subjects x 3 readers x ED and ES, and one contour pair against medpy.

What is measured: the pure computation path the "report" job runs after reading the database -
`compute_cases` (per-case clinical measures for every reader and Dice / Hausdorff / HD95 / mean contour
distance for every reader pair, on a fork pool of up to 2 processes) and `aggregate_cardiac` (tables, Bland-Altman,
ICC, CV, trends). The database round trip (reading annotation versions, writing the cache) and rasterising
contours are not included: the synthetic reads are label maps made in memory by perturbing phantom label
maps (random 0-1 pixel shifts and a dilated or eroded slice per reader), as a model's label-map predictions are.

per_pair_ms: one reader pair at ED (one structure: Dice + the three distances), our path, median of runs.
reference_ms: medpy's dc + hd + hd95 + assd on the same pair in the same process.

    .venv/bin/python bench/agreement.py [--subjects 600] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from atrium.agreement.compute import (  # noqa: E402
    CaseTask,
    aggregate_cardiac,
    case_pair_metrics,
    compute_cases,
    ordered_pairs,
)
from atrium.agreement.reads import LABELS, Reader, ReaderMasks, _summarise  # noqa: E402
from ml.data.cardiac_phantom import make_cardiac_cine  # noqa: E402

THRESHOLDS = {"report_s_600x3": 10.0, "per_pair_vs_reference": 1.0}


def _perturb(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(S, H, W) labels shifted by up to a pixel, with one slice's LV dilated or eroded."""
    out = np.roll(labels, tuple(int(v) for v in rng.integers(-1, 2, size=2)), axis=(1, 2))
    s = int(rng.integers(0, out.shape[0]))
    lv = out[s] == 1
    changed = ndimage.binary_dilation(lv) if rng.random() < 0.5 else ndimage.binary_erosion(lv)
    out[s][lv & ~changed] = 2
    out[s][changed & (out[s] != 3)] = 1
    return out


def _masks(ed: np.ndarray, es: np.ndarray, ed_phase: int, es_phase: int) -> ReaderMasks:
    missing, slices = _summarise(ed, es)
    return ReaderMasks(ed_phase, es_phase, "case", ed, es, missing, 0, slices)


def make_tasks(n_subjects: int, n_phantoms: int, seed: int) -> tuple[list[Reader], list[CaseTask]]:
    rng = np.random.default_rng(seed)
    readers = [Reader(key=f"obs:o{i}#1", label=f"o{i}", kind="observer", user=f"o{i}") for i in (1, 2, 3)]
    phantoms = [make_cardiac_cine(seed + i, n_slices=10, n_phases=6, size=128) for i in range(n_phantoms)]
    pairs = [(a.key, b.key) for a, b, _ in ordered_pairs(readers)]
    tasks = []
    for subject in range(n_subjects):
        c = phantoms[subject % n_phantoms]
        ed, es = c.labels[:, c.ed_phase], c.labels[:, c.es_phase]
        masks = {r.key: _masks(_perturb(ed, rng), _perturb(es, rng), c.ed_phase, c.es_phase) for r in readers}
        tasks.append(
            CaseTask(
                str(subject),
                tuple(c.labels.shape),
                c.pixel_spacing_mm,
                c.slice_spacing_mm,
                (c.ed_phase, c.es_phase),
                masks=masks,
                summaries=[r.key for r in readers],
                pairs=pairs,
            )
        )
    return readers, tasks


def time_per_pair(tasks: list[CaseTask], repeats: int) -> dict[str, dict[str, float]]:
    from medpy.metric import binary as mb

    from atrium.agreement.surfaces import pairwise_overlap_and_surfaces

    out: dict[str, dict[str, float]] = {}
    for name, value in LABELS.items():
        ours, ref = [], []
        for task in tasks[:repeats]:
            a, b = task.masks["obs:o1#1"].ed == value, task.masks["obs:o2#1"].ed == value
            spacing = (task.slice_mm, *task.spacing)
            t = time.perf_counter()
            ((d, sm),) = pairwise_overlap_and_surfaces([a, b], [(0, 1)], spacing)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            rd, rh = mb.dc(a, b), mb.hd(a, b, spacing)
            r95, rassd = mb.hd95(a, b, spacing), mb.assd(a, b, spacing)
            ref.append(time.perf_counter() - t)
            assert abs(d - rd) < 1e-9 and abs(sm.hausdorff - rh) < 1e-6 and abs(sm.hd95 - r95) < 1e-6
            assert abs(sm.mean_contour_distance - rassd) < 1e-6
        out[name] = {"ours_ms": 1000 * statistics.median(ours), "reference_ms": 1000 * statistics.median(ref)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--phantoms", type=int, default=12)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--pair-repeats", type=int, default=20)
    args = parser.parse_args()

    t = time.perf_counter()
    readers, tasks = make_tasks(args.subjects, args.phantoms, seed=7)
    setup_s = time.perf_counter() - t

    t = time.perf_counter()
    results = compute_cases(tasks, processes=args.processes)
    summaries = {task.case_id: r["summaries"] for task, r in zip(tasks, results, strict=True)}
    pairs = {task.case_id: r["pairs"] for task, r in zip(tasks, results, strict=True)}
    per_case_s = time.perf_counter() - t
    t = time.perf_counter()
    report = aggregate_cardiac(readers, summaries, pairs)
    aggregate_s = time.perf_counter() - t
    report_s = per_case_s + aggregate_s

    t = time.perf_counter()
    for task in tasks[:50]:
        case_pair_metrics(task.masks, task.pairs, (task.slice_mm, *task.spacing))
    serial_case_ms = 1000 * (time.perf_counter() - t) / 50

    per_pair = time_per_pair(tasks, args.pair_repeats)
    per_pair_ms = {k: round(v["ours_ms"], 3) for k, v in per_pair.items()}
    reference_ms = {k: round(v["reference_ms"], 3) for k, v in per_pair.items()}
    ratio = max(per_pair_ms[k] / reference_ms[k] for k in per_pair_ms)
    lv_ed = next(
        r
        for r in report["contours"]
        if r["pair"] == "O1 vs O2" and r["phase"] == "ED" and r["structure"] == "LV"
    )
    key = f"report_s_{args.subjects}x3"
    result = {
        "measured": "compute_cases + aggregate_cardiac (the report job's computation, without the database); "
        "reads are in-memory label maps, so contour rasterisation is not included",
        "subjects": args.subjects,
        "readers": 3,
        "phases": ["ED", "ES"],
        "processes": args.processes or "default (min(2, cpu_count))",
        key: round(report_s, 3),
        "per_case_s": round(per_case_s, 3),
        "aggregate_s": round(aggregate_s, 3),
        "serial_case_ms_3_pairs": round(serial_case_ms, 3),
        "setup_s": round(setup_s, 3),
        "per_pair_ms": per_pair_ms,
        "reference": "medpy.metric.binary dc + hd + hd95 + assd",
        "reference_ms": reference_ms,
        "per_pair_vs_reference": round(ratio, 4),
        "sanity_lv_ed_dice_o1_o2": round(lv_ed["dice_mean"], 4),
        "thresholds": {"report_s_600x3": THRESHOLDS["report_s_600x3"], "per_pair_ms": "<= reference_ms"},
        "pass": {
            "report_s_600x3": report_s <= THRESHOLDS["report_s_600x3"] if args.subjects == 600 else None,
            "per_pair": ratio <= THRESHOLDS["per_pair_vs_reference"],
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
