"""Benchmark: how far could any case selection go? An upper-bound check on the segmentation target of
bench/active_learning.py (issue #6: best_vs_random <= 0.6).

Random needs 14 labelled cases there to reach 95 % of the full-data Dice, so the best strategy must reach it
at 8 (the 2 initial cases and 3 rounds of 2). This measures, per seed, with that bench's pool, validation
set, learner, initial set and first rounds:
- oracle: a greedy selection that peeks at the validation labels, which no strategy can: each round trains
  a model on each of K random candidate batches of unlabelled cases and keeps the batch whose model scores
  best on validation. Keeping the best of K trainings also keeps their luck, so the figure errs high;
- balanced: sets of the same size split as equally as possible between the three sites (what covering the
  rare sites aims at);
- random: random sets of the same size, the baseline;
each scored as that bench scores (mean foreground Dice over the site-balanced validation set) and per site.
If the oracle's seed mean stays below the target, a selection rule that sees only the images is not
expected to reach it with this data and learner: the learner or the data would have to change.

    .venv/bin/python bench/active_learning_oracle.py [--quick] [--seeds 2] [--first-seed 0] [--candidates 8]
        [--rounds 3] [--draws 3] [--jobs 2] [--threads 1]

The last line is one JSON object: the figures, the target, and whether the oracle reaches it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from active_learning import (  # noqa: E402
    SITE_MIX,
    TARGET_FRACTION,
    THRESHOLDS,
    build_tasks,
    pool_sites,
    validation_sites,
)

from ml.active_learning.setups import learner_config_for  # noqa: E402
from ml.active_learning.simulation import initial_cases  # noqa: E402


def balanced_counts(n: int, sites: list[str]) -> dict[str, int]:
    """n cases split as equally as possible between the sites, the remainder to the first (commonest)."""
    base, extra = divmod(n, len(sites))
    return {s: base + (1 if i < extra else 0) for i, s in enumerate(sites)}


def run_seed(
    seed: int, quick: bool, candidates: int, rounds: int, draws: int, threads: int
) -> dict[str, Any]:
    """One seed: the full-data score, the oracle's curve, and the balanced and random sets of its size."""
    torch.set_num_threads(max(1, threads))
    start = time.perf_counter()
    spec = build_tasks(quick)["segmentation"]
    data = spec.data(seed)
    n_pool = data.n_cases
    per_case = len(data.pool_x) // n_pool
    sites = pool_sites(n_pool, seed, SITE_MIX)
    val_case_sites = validation_sites(len(data.val_x) // per_case // len(SITE_MIX), SITE_MIX)
    val_sites = np.repeat(val_case_sites, per_case)
    config = learner_config_for(
        ["random"], steps_per_round=spec.steps, first_round_steps=spec.first_steps, seed=seed, **spec.config
    )
    learner = spec.learner(config)
    rng = np.random.default_rng(7919 + seed)

    def score(cases: list[int]) -> dict[str, Any]:
        keep = np.isin(data.case_ids, cases)
        model = learner.train(data.pool_x[keep], data.pool_y[keep], None)
        per_site = {
            s: round(
                float(learner.evaluate(model, data.val_x[val_sites == s], data.val_y[val_sites == s])), 4
            )
            for s in SITE_MIX
        }
        overall = float(learner.evaluate(model, data.val_x, data.val_y))
        picked = {s: int(sum(sites[c] == s for c in cases)) for s in SITE_MIX}
        out = {"score": round(overall, 4), "per_site": per_site, "sites": picked}
        print(f"{time.perf_counter() - start:6.1f}s seed {seed}: {len(cases)} cases {picked} -> {out['score']:.3f} "
              f"{per_site}", file=sys.stderr, flush=True)  # fmt: skip
        return out

    full = score(list(range(n_pool)))
    labelled = [int(c) for c in initial_cases(data.case_ids, spec.initial, seed)]
    oracle_curve = [{"n_labelled": len(labelled), **score(labelled)}]
    for batch in spec.schedule[:rounds]:
        unlabelled = [c for c in range(n_pool) if c not in labelled]
        tries = []
        for _ in range(candidates):
            pick = [int(c) for c in rng.choice(unlabelled, size=batch, replace=False)]
            tries.append((score(labelled + pick), pick))
        best, pick = max(tries, key=lambda t: t[0]["score"])
        labelled += pick
        oracle_curve.append({"n_labelled": len(labelled), **best})
    n = len(labelled)
    by_site = {s: [c for c in range(n_pool) if sites[c] == s] for s in SITE_MIX}
    balanced = []
    for _ in range(draws):
        counts = balanced_counts(n, list(SITE_MIX))
        counts = {s: min(k, len(by_site[s])) for s, k in counts.items()}
        # A site with too few cases: the rest come from the first (commonest) site.
        counts[next(iter(SITE_MIX))] += n - sum(counts.values())
        cases = [int(c) for s, k in counts.items() for c in rng.choice(by_site[s], size=k, replace=False)]
        balanced.append(score(cases))
    random_sets = [score([int(c) for c in rng.choice(n_pool, size=n, replace=False)]) for _ in range(draws)]
    return {
        "seed": seed,
        "n_labelled": n,
        "full_data_score": full["score"],
        "full_data_per_site": full["per_site"],
        "oracle_curve": oracle_curve,
        "balanced": balanced,
        "random": random_sets,
        "seconds": round(time.perf_counter() - start, 1),
    }


def summarise(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    full = float(np.mean([r["full_data_score"] for r in per_seed]))
    target = TARGET_FRACTION * full

    def mean_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "score": round(float(np.mean([r["score"] for r in rows])), 4),
            "per_site": {s: round(float(np.mean([r["per_site"][s] for r in rows])), 4) for s in SITE_MIX},
        }

    oracle = mean_of([r["oracle_curve"][-1] for r in per_seed])
    return {
        "n_labelled": per_seed[0]["n_labelled"],
        "full_data_score": round(full, 4),
        "target": round(target, 4),
        "oracle": oracle,
        "balanced": mean_of([b for r in per_seed for b in r["balanced"]]),
        "random": mean_of([b for r in per_seed for b in r["random"]]),
        "oracle_reaches_target": oracle["score"] >= target,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--quick", action="store_true",
        help="a smoke run: the active-learning bench's quick pool, 1 seed, 1 round of 2 candidates, 1 draw",
    )  # fmt: skip
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument(
        "--first-seed", type=int, default=0, help="the active-learning bench's figures are from 0"
    )
    ap.add_argument("--candidates", type=int, default=8, help="candidate batches the oracle trains per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds after the initial set (3: 8 cases)")
    ap.add_argument("--draws", type=int, default=3, help="balanced and random sets drawn per seed")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes at once")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.candidates, args.rounds, args.draws = 1, 2, 1, 1
    for name in ("candidates", "rounds", "draws", "seeds", "jobs"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    start = time.perf_counter()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    work = (args.quick, args.candidates, args.rounds, args.draws, args.threads)
    if args.jobs > 1 and len(seeds) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(seeds)), mp_context=context) as pool:
            per_seed = list(pool.map(run_seed, seeds, *[[w] * len(seeds) for w in work]))
    else:
        per_seed = [run_seed(s, *work) for s in seeds]
    out = {
        **summarise(per_seed),
        "seeds": per_seed,
        "thresholds": {"target_fraction": TARGET_FRACTION, "best_vs_random": THRESHOLDS["best_vs_random"]},
        "quick": args.quick,
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
