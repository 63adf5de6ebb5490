"""Benchmark: the agreement report for 600 subjects x 3 readers x ED and ES, and one contour pair against medpy.

What is measured: the pure computation path the "report" job runs after reading the database -
`compute_cases` (per-case clinical measures for every reader and Dice / Hausdorff / HD95 / mean contour
distance for every reader pair, on a fork pool of 2 processes when a core is spare) and `aggregate_cardiac`
(tables, Bland-Altman, ICC, CV, trends). The database round trip (reading annotation versions, writing the
cache) and rasterising contours are not included: the synthetic reads are label maps made in memory by
perturbing phantom label maps (random 0-1 pixel shifts and a dilated or eroded slice per reader), as a
model's label-map predictions are.

per_pair_ms: one reader pair at ED (one structure: Dice + the three distances), our path, median of runs.
reference_ms: medpy's dc + hd + hd95 + assd on the same pair in the same process.
baseline: the same per-case contour metrics computed the textbook way (per pair, cropped to the pair's box:
Dice, then one exact Euclidean distance transform of each boundary, as medpy does), serially on
the first cases, against our path serially on the same cases in the same run; on a machine shared with
other work the absolute seconds move with the load (printed), the ratio much less.

    .venv/bin/python bench/agreement.py [--subjects 600] [--processes 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
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
    default_processes,
    ordered_pairs,
)
from atrium.agreement.reads import LABELS, Reader, ReaderMasks, _summarise  # noqa: E402
from ml.data.cardiac_phantom import make_cardiac_cine  # noqa: E402
from ml.metrics.distances import pairwise_overlap_and_surfaces  # noqa: E402

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


def _textbook_pair(a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]) -> tuple[float, ...]:
    """Dice, Hausdorff, HD95, ASSD of one pair: both cropped to their union's box plus a voxel, boundaries
    by erosion, one EDT per boundary, nothing reused across pairs."""
    total = int(a.sum()) + int(b.sum())
    if not a.any() or not b.any():
        return (1.0 if total == 0 else 0.0,)
    box = tuple(
        slice(max(int(idx[0]) - 1, 0), int(idx[-1]) + 2)
        for idx in (np.flatnonzero((a | b).any(axis=other)) for other in ((1, 2), (0, 2), (0, 1)))
    )
    a, b = a[box], b[box]
    st = ndimage.generate_binary_structure(a.ndim, 1)
    ba = a & ~ndimage.binary_erosion(a, st, border_value=0)
    bb = b & ~ndimage.binary_erosion(b, st, border_value=0)
    both = np.concatenate(
        [
            ndimage.distance_transform_edt(~bb, sampling=spacing)[ba],
            ndimage.distance_transform_edt(~ba, sampling=spacing)[bb],
        ]
    )
    dice = 2.0 * int(np.count_nonzero(a & b)) / total
    return dice, float(both.max()), float(np.percentile(both, 95)), float(both.mean())


def textbook_case(task: CaseTask) -> list[tuple[float, ...]]:
    spacing = (float(task.slice_mm), *(float(v) for v in task.spacing))
    out = []
    for a, b in task.pairs:
        for phase in ("ed", "es"):
            la, lb = getattr(task.masks[a], phase), getattr(task.masks[b], phase)
            for value in LABELS.values():
                out.append(_textbook_pair(la == value, lb == value, spacing))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--phantoms", type=int, default=12)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--pair-repeats", type=int, default=20)
    parser.add_argument("--baseline-cases", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="120 subjects, fewer repeats (make bench)")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.pair_repeats, args.baseline_cases = 120, 5, 10
    load_before = os.getloadavg()[0]

    t = time.perf_counter()
    readers, tasks = make_tasks(args.subjects, args.phantoms, seed=7)
    setup_s = time.perf_counter() - t

    processes = args.processes or default_processes()
    t = time.perf_counter()
    results = compute_cases(tasks, processes=processes)
    summaries = {task.case_id: r["summaries"] for task, r in zip(tasks, results, strict=True)}
    pairs = {task.case_id: r["pairs"] for task, r in zip(tasks, results, strict=True)}
    per_case_s = time.perf_counter() - t
    t = time.perf_counter()
    report = aggregate_cardiac(readers, summaries, pairs)
    aggregate_s = time.perf_counter() - t
    report_s = per_case_s + aggregate_s

    # ours and the textbook baseline, serially, interleaved case by case so that both see the same load
    ours_s = base_s = 0.0
    n_base = min(args.baseline_cases, len(tasks))
    for task in tasks[:n_base]:
        t = time.perf_counter()
        case_pair_metrics(task.masks, task.pairs, (task.slice_mm, *task.spacing))
        ours_s += time.perf_counter() - t
        t = time.perf_counter()
        textbook_case(task)
        base_s += time.perf_counter() - t
    serial_case_ms = 1000 * ours_s / n_base
    baseline_case_ms = 1000 * base_s / n_base

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
        "processes": args.processes or f"default: {processes} (2 only with a spare core by load average)",
        key: round(report_s, 3),
        "per_case_s": round(per_case_s, 3),
        "aggregate_s": round(aggregate_s, 3),
        "serial_case_ms_3_pairs": round(serial_case_ms, 3),
        "baseline": "per pair, cropped: Dice + one scipy EDT per boundary (no reuse), serial, same cases, same run",
        "baseline_case_ms_3_pairs": round(baseline_case_ms, 3),
        "speedup_vs_baseline": round(baseline_case_ms / serial_case_ms, 2),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
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
