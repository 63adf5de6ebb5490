"""ICC and the within-subject coefficient of variation: a small case worked by hand, and cross-checks against
pingouin's intraclass_corr and a one-way ANOVA from statsmodels (independent implementations)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from ml.metrics.agreement import coefficient_of_variation, icc

# pingouin still passes inplace= to pandas, which pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

# 3 subjects x 2 raters. By hand: grand mean 11/3; row means 1.5, 3.5, 6; column means 3, 13/3.
# MSR = 2 * ((13/6)^2 + (1/6)^2 + (7/3)^2) / 2 = 61/6; MSC = 3 * ((2/3)^2 + (2/3)^2) / 1 = 8/3;
# residuals +-1/6 (rows 1, 2) and +-1/3 (row 3): SSE = 1/3, MSE = (1/3) / 2 = 1/6.
SMALL = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])


def test_icc_of_a_small_case_worked_by_hand():
    # ICC(2,1) = (MSR - MSE) / (MSR + MSE + 2 (MSC - MSE) / 3) = 10 / (62/6 + 5/3) = 10 / 12
    assert icc(SMALL, "ICC(2,1)").value == pytest.approx(5 / 6)
    # ICC(3,1) = (MSR - MSE) / (MSR + MSE) = 10 / (62/6)
    assert icc(SMALL, "ICC(3,1)").value == pytest.approx(30 / 31)


def test_coefficient_of_variation_of_a_small_case_worked_by_hand():
    # per-subject variances (ddof 1): 0.5, 0.5, 2 -> mean 1, within-subject SD 1; grand mean 11/3
    assert coefficient_of_variation(SMALL) == pytest.approx(3 / 11)


def _long(ratings: np.ndarray) -> pd.DataFrame:
    n, k = ratings.shape
    return pd.DataFrame(
        {
            "subject": np.repeat(np.arange(n), k),
            "rater": np.tile(np.arange(k), n),
            "y": ratings.ravel(),
        }
    )


def _pingouin(ratings: np.ndarray, kind: str) -> float:
    """pingouin's single-rater ICC: "ICC(A,1)" (absolute agreement, two-way random: our ICC(2,1)) or
    "ICC(C,1)" (consistency, two-way mixed: our ICC(3,1))."""
    table = pingouin.intraclass_corr(
        data=_long(ratings), targets="subject", raters="rater", ratings="y", nan_policy="omit"
    )
    return float(table.set_index("Type").loc[kind, "ICC"])


@pytest.mark.parametrize("n,k,seed", [(12, 2, 0), (30, 3, 1), (50, 4, 2)])
def test_icc_matches_pingouin(n, k, seed):
    rng = np.random.default_rng(seed)
    truth = rng.normal(120.0, 25.0, size=(n, 1))  # e.g. LVEDV in mL
    bias = rng.normal(0.0, 4.0, size=(1, k))
    ratings = truth + bias + rng.normal(0.0, 6.0, size=(n, k))
    assert icc(ratings, "ICC(2,1)").value == pytest.approx(_pingouin(ratings, "ICC(A,1)"))
    assert icc(ratings, "ICC(3,1)").value == pytest.approx(_pingouin(ratings, "ICC(C,1)"))
    assert icc(SMALL, "ICC(2,1)").value == pytest.approx(_pingouin(SMALL, "ICC(A,1)"))


def test_icc_with_incomplete_subjects_matches_pingouin_omitting_them():
    rng = np.random.default_rng(5)
    ratings = rng.normal(60.0, 10.0, size=(20, 1)) + rng.normal(0.0, 3.0, size=(20, 3))
    ratings[[2, 7], [1, 0]] = np.nan
    ours = icc(ratings, "ICC(2,1)")
    assert ours.n_subjects == 18 and ours.n_dropped == 2
    assert ours.value == pytest.approx(_pingouin(ratings, "ICC(A,1)"))


@pytest.mark.parametrize("k,seed", [(2, 3), (3, 4)])
def test_coefficient_of_variation_matches_a_one_way_anova(k, seed):
    """Within-subject CV = sqrt(residual mean square of y ~ subject) / grand mean."""
    rng = np.random.default_rng(seed)
    ratings = rng.normal(150.0, 30.0, size=(25, 1)) + rng.normal(0.0, 8.0, size=(25, k))
    frame = _long(ratings)
    table = anova_lm(smf.ols("y ~ C(subject)", data=frame).fit())
    expected = math.sqrt(float(table.loc["Residual", "mean_sq"])) / float(frame["y"].mean())
    assert coefficient_of_variation(ratings) == pytest.approx(expected)
    with_gap = ratings.copy()
    with_gap[0, 0] = np.nan  # the subject is dropped, as the ANOVA on the complete subjects does
    table = anova_lm(smf.ols("y ~ C(subject)", data=_long(ratings[1:])).fit())
    expected = math.sqrt(float(table.loc["Residual", "mean_sq"])) / float(ratings[1:].mean())
    assert coefficient_of_variation(with_gap) == pytest.approx(expected)
