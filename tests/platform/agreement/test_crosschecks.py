"""The agreement computations against independent implementations (medpy, scikit-learn, statsmodels)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from atrium.agreement.planes import aggregate_planes, consensus, frames_from_ranges
from atrium.agreement.reads import Reader


def _readers(n_obs: int, model: bool = True) -> list[Reader]:
    out = [Reader(key=f"obs:u{i}#1", label=f"u{i}", kind="observer", user=f"u{i}") for i in range(n_obs)]
    if model:
        out.append(Reader(key="model:classification#1", label="v1", kind="model", model_number=1, round=1))
    return out


def test_plane_agreement_matches_sklearn_and_statsmodels():
    rng = np.random.default_rng(9)
    readers = _readers(3)
    truth = [rng.integers(0, 14, 40) for _ in range(4)]
    clips = {}
    for c, t in enumerate(truth):
        per = {}
        for r in readers:
            noisy = t.copy()
            flip = rng.random(t.size) < 0.25
            noisy[flip] = rng.integers(0, 14, int(flip.sum()))
            per[r.key] = noisy
        clips[str(c)] = per
    report = aggregate_planes(readers, clips)
    pair = next(p for p in report["pairs"] if p["a"] == "obs:u0#1" and p["b"] == "obs:u1#1")
    a = np.concatenate([clips[c]["obs:u0#1"] for c in clips])
    b = np.concatenate([clips[c]["obs:u1#1"] for c in clips])
    assert pair["kappa"] == pytest.approx(cohen_kappa_score(a, b, labels=list(range(14))))
    assert np.array_equal(np.asarray(pair["confusion"]), confusion_matrix(a, b, labels=list(range(14))))
    assert pair["frame_agreement"] == pytest.approx(np.mean(a == b))
    ratings = np.stack([np.concatenate([clips[c][r.key] for c in clips]) for r in readers[:3]], axis=1)
    table, _ = aggregate_raters(ratings, n_cat=14)
    assert report["fleiss_kappa"] == pytest.approx(fleiss_kappa(table, method="fleiss"))
    cons = np.concatenate([consensus([clips[c][r.key] for r in readers[:3]]) for c in clips])
    model = np.concatenate([clips[c]["model:classification#1"] for c in clips])
    keep = cons >= 0
    labels = sorted(set(cons[keep]))
    p, r, f, _s = precision_recall_fscore_support(
        cons[keep], model[keep], labels=list(range(14)), zero_division=0
    )
    per_plane = report["model_vs_consensus"][0]["vs_consensus"]["per_plane"]
    assert [x["precision"] for x in per_plane] == pytest.approx(list(p))
    assert [x["recall"] for x in per_plane] == pytest.approx(list(r))
    assert [x["f1"] for x in per_plane] == pytest.approx(list(f))
    assert report["model_vs_consensus"][0]["vs_consensus"]["macro_f1"] == pytest.approx(np.mean(f[labels]))


def test_plane_ranges_become_frames_with_background_outside_and_unread_clips_missing():
    frames = frames_from_ranges(
        [
            {"plane": "4CH", "frame_start": 1, "frame_stop": 2},
            {"plane": "LVOT", "frame_start": 2, "frame_stop": 3},
        ],
        5,
    )
    assert frames.tolist() == [3, 1, 9, 9, 3]
    assert frames_from_ranges([], 3).tolist() == [-1, -1, -1]
    assert consensus([np.array([1, 2, -1]), np.array([1, 3, -1])]).tolist() == [1, -1, -1]


def test_per_clip_agreement_averages_the_clips_and_compares_clip_labels():
    readers = _readers(2, model=False)
    clips = {
        "1": {
            "obs:u0#1": np.array([1, 1, 3, 3]),
            "obs:u1#1": np.array([1, 1, 1, 3]),
        },  # 3/4 agree, both "4CH"
        "2": {"obs:u0#1": np.array([6, 6]), "obs:u1#1": np.array([7, 7])},  # 0/2, Femur vs Kidneys
    }
    pair = aggregate_planes(readers, clips)["pairs"][0]
    assert pair["clip_agreement"] == pytest.approx((0.75 + 0.0) / 2)
    assert pair["frame_agreement"] == pytest.approx(3 / 6)
    assert pair["clip_label_agreement"] == pytest.approx(0.5) and pair["n_clips"] == 2


@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")
def test_report_icc_and_cv_rows_match_pingouin_and_an_anova():
    import pandas as pd
    import pingouin
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    from atrium.agreement.compute import MEASURES, aggregate_cardiac

    rng = np.random.default_rng(11)
    readers = _readers(3, model=False)
    truth = rng.normal(140.0, 30.0, size=10)
    summaries = {}
    for c in range(10):
        per = {}
        for n, r in enumerate(readers):
            value = truth[c] + 3.0 * n + rng.normal(0.0, 5.0)
            per[r.key] = {"measures": {m: value for m in MEASURES}, "missing": {}, "ed_phase": 0}
        summaries[str(c)] = per
    report = aggregate_cardiac(readers, summaries, {})
    row = next(r for r in report["reliability"] if r["kind"] == "inter" and r["measure"] == "lvedv")
    frame = pd.DataFrame(
        [(c, r.key, summaries[c][r.key]["measures"]["lvedv"]) for c in summaries for r in readers],
        columns=["subject", "rater", "y"],
    )
    table = pingouin.intraclass_corr(data=frame, targets="subject", raters="rater", ratings="y")
    assert row["icc"] == pytest.approx(float(table.set_index("Type").loc["ICC(A,1)", "ICC"]))
    assert row["n"] == 10
    anova = anova_lm(smf.ols("y ~ C(subject)", data=frame).fit())
    cv = np.sqrt(float(anova.loc["Residual", "mean_sq"])) / float(frame["y"].mean())
    assert row["cv_pct"] == pytest.approx(100.0 * cv)
