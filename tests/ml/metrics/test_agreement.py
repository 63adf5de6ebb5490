import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from ml.metrics.agreement import (
    bland_altman,
    bland_altman_points,
    coefficient_of_variation,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    icc,
    macro_f1,
    paired_differences,
    precision_recall_f1,
)

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; published ICC(2,1) = .29, ICC(3,1) = .71.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


def test_bland_altman_hand_computed_and_drops_nan_pairs():
    # d = [1, 0, 2]: bias 1, SD sqrt((0 + 1 + 1) / 2) = 1, limits 1 -/+ 1.96
    ba = bland_altman([10, 12, 14, np.nan], [9, 12, 12, 5])
    assert ba == pytest.approx((1.0, 1.0, -0.96, 2.96, 3))
    means, diffs = bland_altman_points([10, 12, 14], [9, 12, 12])
    assert means.tolist() == [9.5, 12.0, 13.0] and diffs.tolist() == [1, 0, 2]


def test_bland_altman_of_a_single_pair_has_undefined_spread():
    ba = bland_altman([5.0], [3.0])
    assert ba.bias == 2.0 and ba.n == 1 and math.isnan(ba.sd) and math.isnan(ba.loa_low)


def test_paired_differences_hand_computed():
    # |d| = [2, 5]: mean 3.5, SD sqrt(1.5^2 + 1.5^2) = 2.1213; relative 2/9 and 5/22.5 are both 22.22 %
    d = paired_differences([10, 20], [8, 25])
    assert d.abs_mean == pytest.approx(3.5) and d.abs_sd == pytest.approx(math.sqrt(4.5))
    assert d.rel_mean_pct == pytest.approx(200 / 9) and d.rel_sd_pct == pytest.approx(0.0, abs=1e-12)
    assert d.n == 2


def test_paired_differences_is_symmetric_and_handles_zero_means_and_empty_input():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(50, 150, 20), rng.uniform(50, 150, 20)
    assert paired_differences(a, b) == pytest.approx(paired_differences(b, a))
    z = paired_differences([0.0, 4.0], [0.0, 2.0])
    assert z.n == 2 and z.abs_mean == 1.0 and z.rel_mean_pct == pytest.approx(2 / 3 * 100)
    e = paired_differences([np.nan], [1.0])
    assert e.n == 0 and math.isnan(e.abs_mean)


def test_icc_reproduces_shrout_and_fleiss_published_values():
    assert icc(SHROUT_FLEISS, "ICC(2,1)").value == pytest.approx(0.2898, abs=5e-4)
    assert icc(SHROUT_FLEISS, "ICC(3,1)").value == pytest.approx(0.7148, abs=5e-4)


def test_icc_matches_mean_squares_from_a_statsmodels_two_way_anova():
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(4)
    truth = rng.uniform(80, 200, 15)
    r = truth[:, None] + rng.normal(0, 8, (15, 3)) + np.array([0.0, 5.0, -3.0])
    n, k = r.shape
    df = pd.DataFrame(
        {
            "y": r.ravel(),
            "s": np.repeat(np.arange(n), k).astype(str),
            "r": np.tile(np.arange(k), n).astype(str),
        }
    )
    table = anova_lm(smf.ols("y ~ C(s) + C(r)", data=df).fit())
    msr, msc, mse = table["mean_sq"]["C(s)"], table["mean_sq"]["C(r)"], table["mean_sq"]["Residual"]
    icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    icc3 = (msr - mse) / (msr + (k - 1) * mse)
    assert icc(r, "ICC(2,1)").value == pytest.approx(icc2)
    assert icc(r, "ICC(3,1)").value == pytest.approx(icc3)


def test_icc_drops_rows_with_nan_and_reports_them():
    r = np.vstack([SHROUT_FLEISS, [np.nan, 1, 2, 3]])
    res = icc(r, "ICC(3,1)")
    assert res.n_subjects == 6 and res.n_dropped == 1 and res.kind == "ICC(3,1)"
    assert res.value == pytest.approx(icc(SHROUT_FLEISS, "ICC(3,1)").value)
    assert math.isnan(icc(np.array([[1.0, 2.0]]), "ICC(2,1)").value)
    with pytest.raises(ValueError):
        icc(SHROUT_FLEISS, "ICC(1,1)")  # type: ignore[arg-type]


def test_coefficient_of_variation_hand_computed():
    # per-subject variances (ddof 1): 2 and 0 -> within-subject SD 1; grand mean 15.5
    assert coefficient_of_variation(np.array([[10, 12], [20, 20], [np.nan, 3]])) == pytest.approx(1 / 15.5)
    assert coefficient_of_variation(np.array([[5.0, 5.0], [7.0, 7.0]])) == 0.0


def test_cohen_kappa_hand_computed():
    # cm = [[1, 1], [0, 2]]: po = 3/4; marginals a [2, 2], b [1, 3]: pe = (2 + 6) / 16 = 1/2 -> kappa 1/2
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.5)
    assert cohen_kappa([2, 2], [2, 2]) != cohen_kappa([2, 2], [2, 2])  # nan: chance agreement is 1
    assert math.isnan(cohen_kappa([], []))


def test_cohen_kappa_matches_scikit_learn_with_and_without_a_label_set():
    rng = np.random.default_rng(5)
    for _ in range(5):
        a = rng.integers(0, 14, 200)
        b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 14, 200))
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
        labels = list(range(16))
        assert cohen_kappa(a, b, labels) == pytest.approx(cohen_kappa_score(a, b, labels=labels))


def test_fleiss_kappa_hand_computed():
    # counts per subject [2,0], [0,2], [1,1]: P_i = 1, 1, 0 -> mean 2/3; p_j = [1/2, 1/2] -> Pe = 1/2 -> 1/3
    assert fleiss_kappa(np.array([[0, 0], [1, 1], [0, 1]])) == pytest.approx(1 / 3)
    assert fleiss_kappa(np.array([[0, 0], [1, 1], [0, -1]])) == pytest.approx(1.0)  # missing row dropped
    assert math.isnan(fleiss_kappa(np.array([[3, 3], [3, 3]])))


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(6)
    for _ in range(5):
        truth = rng.integers(0, 5, 60)
        r = np.stack(
            [np.where(rng.random(60) < 0.75, truth, rng.integers(0, 5, 60)) for _ in range(4)], axis=1
        )
        table, _ = aggregate_raters(r)
        assert fleiss_kappa(r) == pytest.approx(sm_fleiss_kappa(table, method="fleiss"))


def test_confusion_matrix_and_per_class_scores_hand_computed():
    t, p = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]
    cm = confusion_matrix(t, p)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    pc = precision_recall_f1(t, p)
    # precision = tp / column sums [2, 2, 2]; recall = tp / row sums [2, 1, 3]; F1 = 2tp / (col + row)
    assert pc.precision == pytest.approx([0.5, 0.5, 1.0])
    assert pc.recall == pytest.approx([0.5, 1.0, 2 / 3])
    assert pc.f1 == pytest.approx([0.5, 2 / 3, 0.8])
    assert pc.support.tolist() == [2, 1, 3]
    assert macro_f1(t, p) == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)


def test_classification_scores_match_scikit_learn_including_absent_classes():
    rng = np.random.default_rng(7)
    labels = np.arange(14)
    for _ in range(5):
        t = rng.integers(0, 12, 300)  # classes 12 and 13 never occur
        p = np.where(rng.random(300) < 0.8, t, rng.integers(0, 14, 300))
        assert np.array_equal(confusion_matrix(t, p, labels), sk_confusion_matrix(t, p, labels=labels))
        prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
        ours = precision_recall_f1(t, p, labels)
        assert ours.precision == pytest.approx(prec) and ours.recall == pytest.approx(rec)
        assert ours.f1 == pytest.approx(f1) and ours.support.tolist() == sup.tolist()
        assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0))
        assert macro_f1(t, p, labels) == pytest.approx(
            f1_score(t, p, labels=labels, average="macro", zero_division=0)
        )
