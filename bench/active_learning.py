"""Benchmark: active-learning strategies against random sampling on the synthetic data, and queue re-ranking.

What is measured, per task (cardiac segmentation, fetal plane classification), with the loop the platform's
`simulate` job runs (`ml.active_learning.simulation.compare_strategies` over `simulate`):
- a learning curve per strategy: the same random initial set for every strategy (per seed), the same
  training budget per round, the synthetic ground truth as the oracle, a fixed validation set; the
  schedule ends with the whole pool labelled;
- the full-data score: the same learner trained on the whole pool with the same protocol (as many
  warm-started trainings as a run has rounds, or one training where rounds retrain from scratch);
- labels_to_95pct: the first number of labelled cases at which the seed-averaged curve reaches 95 % of the
  full-data score (null: never); best_vs_random: the best non-random strategy's count divided by random's.

The pools are built as a clinical pool would be, not to suit any strategy: segmentation cases come from
three sites whose scanners' images look clearly different (the "distinct" vendor appearance), most from one
site (85 / 9 / 6 %; a case is one subject, 3 slices x ED/ES of a 48 x 48 cine); plane frames (rendered at
64 x 80, averaged to 32 x 40) are mostly background and common planes, with some planes rare (as in
free-hand sweeps). The validation sets are balanced (equal cases per site; equal frames per plane), since
the model must serve every site and every plane; scores are plain mean foreground Dice and macro-F1.

Segmentation's target (best_vs_random <= 0.6, issue #6) is not met. The schedule steps by 2 cases up to 24,
so with random at 14 the best strategy must reach 95 % at 8 cases (2 initial + 3 rounds); on the bench's
seeds the seed-averaged Dice at 8 cases is 0.766 (random) and 0.757 (core-set below) against a target of
0.795, which random reaches at 14. Last full run before this work (seeds 0-1): random 14, coreset 10,
hybrid 12, entropy 16 -> 0.71. Tried since (chosen on development seeds 100-101, `--first-seed 100`, with
the schedule cut at 12-20 cases; there: full-data 0.857 / 0.821, target 0.797):
- core-set as it is (the FCN's pooled "fuse" features): not at 95 % by 12 cases (0.796 at 12); it covers
  the rare sites at once but then keeps picking GE cases (seed 100: g p | g g | s g), and the majority
  site's Dice stays at 0.68-0.75 up to 10 cases;
- a TypiClust-like cluster coverage (commit 66e4fa4: k-means into labelled + batch clusters, the most
  typical unlabelled case of each uncovered cluster, farthest first) on the model features joined with
  image appearance statistics (intensity histogram, noise level / correlation / intensity dependence,
  blur; these separate the three sites perfectly, nearest-neighbour purity 1.0): 0.741 at 8, 0.780 at 12,
  below random at 4-8 cases;
- k-centre greedy (core-set) on that joined embedding (commit 087132d): 95 % at 10 cases on the development
  seeds against random's 20 (0.790 at 8); it picks one GE and one Philips case in the first round. On the
  bench's seeds 0-1 (full schedule, segmentation only, 1733 s at 1 thread): random 14, this core-set 12 ->
  0.857, worse than the unchanged core-set's 10, so it was withdrawn; the strategies here are as before.
- site-stratified selection on each case's site, metadata every case carries (issue #10; commit 17dedc1
  for ml/ and the bench, baa525a for Study.al_strategy and the infer and simulate jobs): each pick goes to
  the site with the largest mean unlabelled uncertainty (entropy) per (that site's labelled cases + 1), the
  gain of one label under a power-law learning curve per site when validation weighs sites equally; within
  the site its most uncertain case (site_uncertainty) or its case farthest from everything labelled or
  picked (site_coreset). Development seeds, schedule cut at 10 (`--max-labelled 10`; full-data 0.857 /
  0.823, target 0.798), seed-averaged Dice at 4 / 6 / 8 / 10 cases: random 0.673 / 0.750 / 0.770 / 0.764,
  site_uncertainty 0.675 / 0.754 / 0.779 / 0.782, site_coreset 0.679 / 0.755 / 0.772 / 0.798 (95 % at 10,
  by 0.0002). Neither comes near the 0.798 needed at 8 cases, and site_coreset's 10 is no clear gain over
  the joined core-set's 10 above (0.790 at 8), so the bench's seeds were not run and both were withdrawn
  (strategies, platform choice and migration); `--max-labelled` stays.
Covering the two rare sites in the first round did not by itself lift the balanced Dice at 4-6 cases
above random's (bench seeds at 4 cases: 0.639 against random's 0.709): with one or two GE cases labelled
the GE third stays far behind (Dice 0.49-0.65 on the development seeds, against 0.68-0.93 for the
majority site).
- a longer training, 900 steps from scratch per round in place of 300 (bench seeds 0-1): the full-data
  Dice rises to 0.857 (target 0.814), but random gains as much as the strategies at few labels (0.75 at 8
  cases on the development seeds) and labels to 95 % become random 18, entropy 18, core-set 20, hybrid 18
  -> 1.0; withdrawn.
How far any selection could go is measured by bench/active_learning_oracle.py: with this pool, learner,
initial set and schedule, a greedy selection that peeks at the validation labels (each round the best of
8 random candidate pairs, by the validation Dice of a model trained on each) reaches, at 8 cases on the
bench's seeds 0-1, 0.805 and 0.768 (mean 0.787) against that run's target of 0.798 (full-data 0.863 /
0.817); site-balanced sets of 8 (3 / 3 / 2) score 0.731 and random sets of 8 score 0.742 (3 draws per
seed). So even a selection that sees the validation labels, and keeps the luck of the best of 8
trainings, falls short of 95 % at 8 cases on average; a strategy that sees only the images is not expected
to meet best_vs_random <= 0.6 here unless the learner or the data changes. The GE site holds the balanced
score down: its Dice is 0.42-0.71 in every set of 8 above (0-2 GE cases) and 0.73 / 0.61 with the whole
pool, against Siemens 0.97 (whole pool) and 0.93 / 0.95 in the oracle's sets of 8.

queue_rerank_ms_100k: `rank_queue` over 100,000 cases with random scores, assignment counts and reads per
case 2 (median of 7 runs).

    .venv/bin/python bench/active_learning.py [--quick] [--seeds 2] [--first-seed 0] [--threads 1] [--jobs 2]
        [--tasks segmentation] [--strategies coreset] [--max-labelled 10]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml.active_learning.ranking import rank_queue  # noqa: E402
from ml.active_learning.setups import (  # noqa: E402
    classification_learner,
    learner_config_for,
    segmentation_learner,
)
from ml.active_learning.simulation import (  # noqa: E402
    LearningCurve,
    Pool,
    compare_strategies,
    labels_to_reach,
    mean_curve,
)
from ml.active_learning.strategies import STRATEGIES  # noqa: E402
from ml.data.cardiac_phantom import make_cardiac_cine  # noqa: E402
from ml.data.planes import PLANES  # noqa: E402
from ml.data.ultrasound_clip import make_plane_image  # noqa: E402

THRESHOLDS = {"best_vs_random": 0.6, "queue_rerank_ms_100k": 1000.0}
TARGET_FRACTION = 0.95


VENDOR_MIX = {"siemens": 0.75, "philips": 0.15, "ge": 0.10}
# The segmentation pool's sites: most cases from one scanner, few from the others.
SITE_MIX = {"siemens": 0.85, "philips": 0.09, "ge": 0.06}
# The full run's segmentation pool size, validation cases per site and image size.
SEG_POOL, SEG_VAL_PER_SITE, SEG_SIZE = 100, 4, 48


def pool_sites(n_pool: int, seed: int, mix: dict[str, float]) -> np.ndarray:
    """The site (vendor) of each pool case of `segmentation_data` with this seed and mix."""
    return np.random.default_rng(seed).choice(list(mix), size=n_pool, p=np.asarray(list(mix.values())))


def validation_sites(n_val_per_vendor: int, mix: dict[str, float]) -> list[str]:
    """The site of each validation case of `segmentation_data`: every site in turn, equally often."""
    return list(mix) * n_val_per_vendor


def segmentation_data(
    n_pool: int,
    n_val_per_vendor: int,
    seed: int,
    *,
    mix: dict[str, float] | None = None,
    appearance: str = "standard",
    size: int = 64,
) -> Pool:
    """Cases of 3 slices x (ED, ES) at size x size; the pool is vendor-imbalanced, validation balanced."""
    mix = mix or VENDOR_MIX
    vendors = pool_sites(n_pool, seed, mix)
    val_vendors = validation_sites(n_val_per_vendor, mix)

    def items(subject_seed: int, vendor: str) -> tuple[np.ndarray, np.ndarray]:
        c = make_cardiac_cine(
            subject_seed,
            n_slices=3,
            n_phases=8,
            size=size,
            vendor=str(vendor),
            appearance=appearance,  # type: ignore[arg-type]
        )
        ph = [c.ed_phase, c.es_phase]
        return c.image[:, ph].reshape(-1, size, size), c.labels[:, ph].reshape(-1, size, size)

    pool = [items(100_000 * seed + i, v) for i, v in enumerate(vendors)]
    val = [items(10_000_000 + 100_000 * seed + i, v) for i, v in enumerate(val_vendors)]
    per_case = len(pool[0][0])
    return Pool(
        np.concatenate([p[0] for p in pool]),
        np.concatenate([p[1] for p in pool]),
        np.repeat(np.arange(n_pool), per_case),
        np.concatenate([v[0] for v in val]),
        np.concatenate([v[1] for v in val]),
    )


# The plane task: background, three common and three rarer standard planes (a subset of the 14 classes,
# so that a tiny SonoNet learns it within the CPU budget) with free-hand-sweep-like frequencies.
PLANE_SUBSET = ("Background", "Brain (Tv.)", "Abdominal", "Femur", "4CH", "Lips", "Spine (sag.)")
PLANE_FREQUENCY = (0.40, 0.16, 0.16, 0.16, 0.04, 0.04, 0.04)


def classification_data(n_pool: int, n_val_per_class: int, seed: int, *, reduce: int = 1) -> Pool:
    """One frame per case, rendered at 64 x 80 and averaged down by `reduce` (2: 32 x 40); class-imbalanced
    pool, balanced validation. Labels index PLANE_SUBSET."""
    rng = np.random.default_rng(seed + 1)
    planes = [PLANES.index(p) for p in PLANE_SUBSET]
    k = len(planes)

    def frame(plane: int, g: np.random.Generator) -> np.ndarray:
        image = make_plane_image(plane, g, height=64, width=80)
        return image.reshape(64 // reduce, reduce, 80 // reduce, reduce).mean(axis=(1, 3))

    labels = rng.choice(k, size=n_pool, p=np.asarray(PLANE_FREQUENCY))
    pool = np.stack([frame(planes[c], rng) for c in labels])
    val_labels = np.repeat(np.arange(k), n_val_per_class)
    vrng = np.random.default_rng(seed + 1_000_003)
    val = np.stack([frame(planes[c], vrng) for c in val_labels])
    return Pool(pool, labels.astype(np.int64), np.arange(n_pool), val, val_labels.astype(np.int64))


@dataclass
class TaskSpec:
    name: str
    data: Any
    learner: Any
    initial: int
    schedule: list[int]
    steps: int
    first_steps: int
    strategies: list[str]
    config: dict[str, Any]


def run_seed(spec: TaskSpec, seed: int, log: Any) -> tuple[float, dict[str, LearningCurve]]:
    """One seed of a task: the full-data score and a learning curve per strategy."""
    data: Pool = spec.data(seed)
    config = learner_config_for(
        spec.strategies, steps_per_round=spec.steps, first_round_steps=spec.first_steps, seed=seed,
        **spec.config,
    )  # fmt: skip

    def report(strategy: str, r: int, n: int, score: float) -> None:
        if strategy == "full-data":
            log(f"[{spec.name}] seed {seed}: pool {data.n_cases} cases, full-data score {score:.3f}")

    comparison = compare_strategies(
        spec.strategies, data, make_learner=functools.partial(spec.learner, config),
        initial=spec.initial, batch=spec.schedule, rounds=None, seed=seed, aggregate="mean",
        progress=report,
    )  # fmt: skip
    for strategy, curve in comparison.curves.items():
        pts = " ".join(f"{n}:{s:.3f}" for n, s in zip(curve.n_labelled, curve.score, strict=True))
        log(f"[{spec.name}] seed {seed} {strategy:>16} ({curve.seconds:.0f} s) {pts}")
    return comparison.full_data_score, comparison.curves


def _seed_in_worker(
    name: str, seed: int, quick: bool, threads: int, strategies: list[str], schedule: list[int]
) -> tuple[float, dict[str, LearningCurve]]:
    """run_seed in a worker process (the specs hold lambdas, so each process builds its own)."""
    torch.set_num_threads(max(1, threads))
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - start:6.1f}s (worker) {msg}", file=sys.stderr, flush=True)

    spec = build_tasks(quick)[name]
    spec.strategies, spec.schedule = strategies, schedule
    return run_seed(spec, seed, log)


def run_task(
    spec: TaskSpec, seeds: list[int], log: Any, *, jobs: int = 1, quick: bool = False, threads: int = 1
) -> dict[str, Any]:
    """Every seed of a task (in `jobs` processes of `threads` threads each), then the seed-averaged
    curves, the labels to 95 % and the ratio to random."""
    curves: dict[str, list[LearningCurve]] = {s: [] for s in spec.strategies}
    full_scores = []
    t0 = time.perf_counter()
    if jobs > 1 and len(seeds) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(seeds)), mp_context=context) as pool:
            futures = [
                pool.submit(_seed_in_worker, spec.name, s, quick, threads, spec.strategies, spec.schedule)
                for s in seeds
            ]
            outcomes = [f.result() for f in futures]
    else:
        outcomes = [run_seed(spec, seed, log) for seed in seeds]
    for full_score, seed_curves in outcomes:
        full_scores.append(full_score)
        for strategy, curve in seed_curves.items():
            curves[strategy].append(curve)
    full_mean = float(np.mean(full_scores))
    target = TARGET_FRACTION * full_mean
    result: dict[str, Any] = {"full_data_score": round(full_mean, 4), "target": round(target, 4)}
    to95: dict[str, int | None] = {}
    mean_curves: dict[str, dict[str, list[float] | list[int]]] = {}
    for strategy, cs in curves.items():
        ns, ss = mean_curve(cs)
        mean_curves[strategy] = {"n_labelled": ns, "score": [round(s, 4) for s in ss]}
        to95[strategy] = labels_to_reach(ns, ss, target)
    result["labels_to_95pct"] = to95
    result["curves"] = mean_curves
    others = {s: n for s, n in to95.items() if s != "random" and n is not None}
    best = min(others, key=lambda s: (others[s], s)) if others else None
    result["best_strategy"] = best
    rnd = to95.get("random")
    if best is not None and rnd:
        result["best_vs_random"] = round(others[best] / rnd, 4)
    else:
        # Random never reached the target within the run: the ratio is at most best / (largest budget).
        result["best_vs_random"] = None
        if best is not None:
            result["best_vs_random_upper_bound"] = round(
                others[best] / max(mean_curves["random"]["n_labelled"]), 4
            )
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def rerank_ms(n: int = 100_000, repeats: int = 7) -> float:
    rng = np.random.default_rng(0)
    ids = rng.permutation(n).astype(np.int64)
    scores = rng.random(n)
    scores[rng.random(n) < 0.01] = np.nan
    assigned = rng.integers(0, 3, size=n)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rank_queue(ids, scores, assigned, 2)
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def build_tasks(quick: bool) -> dict[str, TaskSpec]:
    """The two tasks' pools, learners, schedules and strategies (full or quick)."""
    # Segmentation: a multi-site pool where a minority of sites runs a different sequence ("distinct"
    # vendor appearance); 3 slices x ED/ES per case at 48 x 48; the schedule ends with the whole pool, in
    # steps of 2 cases up to 24 (where the curves near 95 %). Every round retrains from scratch for the same
    # step count, with the platform trainer's flips, rotations and zooms: every point of a curve is then
    # trained alike (warm-started rounds gave later points more training than earlier ones, so the curves
    # measured training time as much as labels).
    seg = TaskSpec(
        name="segmentation",
        data=lambda s: segmentation_data(
            24 if quick else SEG_POOL,
            2 if quick else SEG_VAL_PER_SITE,
            s,
            mix=SITE_MIX,
            appearance="distinct",
            size=SEG_SIZE,
        ),
        learner=segmentation_learner,
        initial=2,
        schedule=[2, 2, 4, 4, 10] if quick else [2] * 11 + [4] * 3 + [8, 16, 20, 20],
        steps=0,
        first_steps=120 if quick else 300,
        strategies=["random", "hybrid"] if quick else ["random", "entropy", "coreset", "hybrid"],
        config={"reduction": "foreground", "warm_start": False, "augment": "affine"},
    )
    # Planes: frames at 32 x 40, retrained from scratch every round (cheap enough here), so that every
    # point of a curve is trained alike and the whole-pool point is the full-data reference's protocol.
    # 400 steps, and batches that draw every labelled plane equally often: at 150 steps the whole-pool
    # model reached a macro-F1 of only 0.47-0.53 (under-trained), and with uniform batches at 400 steps
    # 0.73-0.89 across seeds and repeats, since the rare planes come up in few batches (0.85-0.92 balanced).
    cls = TaskSpec(
        name="classification",
        data=lambda s: classification_data(200 if quick else 400, 10 if quick else 30, s, reduce=2),
        learner=lambda c: classification_learner(c, n_classes=len(PLANE_SUBSET), input_size=(32, 40)),
        initial=20,
        schedule=[10, 10, 20, 40, 100] if quick else [10, 10, 20, 20, 40, 40, 80, 80, 80],
        steps=0,
        first_steps=100 if quick else 400,
        strategies=["random", "entropy"] if quick else ["random", "margin", "entropy", "hybrid"],
        config={"mc_samples": 0, "batch_size": 32, "warm_start": False, "balanced": True},
    )
    return {t.name: t for t in (seg, cls)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: one seed unless --seeds, small pools, two strategies per task",
    )
    ap.add_argument("--seeds", type=int, default=None, help="how many seeds: default 2 (quick: 1)")
    ap.add_argument(
        "--first-seed", type=int, default=0,
        help="seeds run first-seed, first-seed + 1, ...; the bench's figures are from 0 (develop on others, e.g. 100)",
    )  # fmt: skip
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--max-labelled", type=int, default=None,
        help="cut each schedule where it would pass this many labelled cases (development runs); default: all",
    )  # fmt: skip
    ap.add_argument("--tasks", default="segmentation,classification")
    ap.add_argument(
        "--strategies", default=None,
        help="run only these strategies (comma-separated; random always runs, as the baseline; one outside a "
        "task's default set is added to it)",
    )  # fmt: skip
    ap.add_argument(
        "--jobs", type=int, default=1,
        help="seeds run in this many processes at once (each with --threads threads); the figures are the same",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(max(1, args.threads))
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - start:6.1f}s {msg}", file=sys.stderr, flush=True)

    quick = args.quick
    seeds = list(range(args.first_seed, args.first_seed + (args.seeds or (1 if quick else 2))))
    tasks = build_tasks(quick)
    if args.strategies:
        keep = {"random", *args.strategies.split(",")}
        for spec in tasks.values():
            spec.strategies = [s for s in spec.strategies if s in keep]
            spec.strategies += sorted(s for s in keep - set(spec.strategies) if s in STRATEGIES)
    if args.max_labelled is not None:
        for spec in tasks.values():
            total, cut = spec.initial, []
            for b in spec.schedule:
                if total + b > args.max_labelled:
                    break
                total += b
                cut.append(b)
            spec.schedule = cut
    results = {
        name: run_task(tasks[name], seeds, log, jobs=args.jobs, quick=quick, threads=args.threads)
        for name in args.tasks.split(",")
    }
    ms = rerank_ms()
    log(f"rank_queue 100k: {ms:.1f} ms")
    ratios = {k: v["best_vs_random"] for k, v in results.items()}
    out = {
        "labels_to_95pct": {k: v["labels_to_95pct"] for k, v in results.items()},
        "best_vs_random": ratios,
        "best_strategy": {k: v["best_strategy"] for k, v in results.items()},
        "full_data_score": {k: v["full_data_score"] for k, v in results.items()},
        "tasks": results,
        "queue_rerank_ms_100k": round(ms, 2),
        "thresholds": THRESHOLDS,
        "pass": {
            **{
                f"best_vs_random_{k}": r is not None and r <= THRESHOLDS["best_vs_random"]
                for k, r in ratios.items()
            },
            "queue_rerank_ms_100k": ms <= THRESHOLDS["queue_rerank_ms_100k"],
        },
        "seeds": seeds,
        "quick": quick,
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
