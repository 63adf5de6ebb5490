"""The site strategies in the platform: each case's acquisition group travels with its evidence, and the
labelled cases' groups count as labels of their site."""

from __future__ import annotations

import numpy as np

from atrium.learning.scoring import PoolEvidence, add_case, rank_cases
from atrium.studies.models import Case, acquisition_group


def _evidence() -> PoolEvidence:
    evidence = PoolEvidence()
    # Case 1 (site a) is the more uncertain: entropy ln 2 = 0.693 against 0.673 for case 2 (site b).
    add_case(evidence, strategy="site_uncertainty", case_id=1, probs=np.array([[0.5, 0.5]]), group="a|x")
    add_case(evidence, strategy="site_uncertainty", case_id=2, probs=np.array([[0.6, 0.4]]), group="b|x")
    return evidence


def test_with_no_labels_the_more_uncertain_sites_case_comes_first() -> None:
    ranked = rank_cases("site_uncertainty", _evidence(), labelled=[], seed=0)
    assert max(ranked.scores, key=ranked.scores.__getitem__) == 1


def test_labelled_cases_of_a_site_send_the_next_label_to_another_site() -> None:
    # Two labelled cases from site a: 0.693 / 3 < 0.673 / 1, so site b's case comes first.
    ranked = rank_cases(
        "site_uncertainty", _evidence(), labelled=[7, 8], seed=0, labelled_groups=["a|x", "a|x"]
    )
    assert max(ranked.scores, key=ranked.scores.__getitem__) == 2


def test_a_cases_acquisition_group_is_its_site_and_vendor() -> None:
    assert (
        Case(site=" Leeds ", vendor="GE").acquisition_group == "Leeds|GE" == acquisition_group("Leeds", "GE")
    )
    assert Case().acquisition_group == "|"
