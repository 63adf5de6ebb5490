import math

import numpy as np
import torch

from ml.domain_adaptation.class_prior import PriorCheckpoints, class_proportions, prior_divergence
from ml.domain_adaptation.discriminator import DiscriminatorConfig
from ml.domain_adaptation.segmentation import adapt_segmenter
from ml.segmentation.fcn import FCN, tiny


def test_class_proportions_count_every_class_including_absent_ones():
    labels = np.array([[0, 0, 1], [3, 0, 1]])
    np.testing.assert_allclose(class_proportions(labels, 4), [3 / 6, 2 / 6, 0.0, 1 / 6])


def test_prior_divergence_is_zero_for_equal_priors_and_matches_kl_by_hand():
    p = np.array([0.5, 0.25, 0.25])
    assert prior_divergence(p, p) == 0.0
    q = np.array([0.25, 0.5, 0.25])
    expected = 0.5 * math.log(2) + 0.25 * math.log(0.5)
    assert math.isclose(prior_divergence(p, q), expected, rel_tol=1e-6)
    # A collapsed prediction (no foreground) is far from the reference.
    assert prior_divergence(p, np.array([1.0, 0.0, 0.0])) > 5.0


def test_checkpoints_keep_the_closest_weights_from_the_first_step_on():
    net = torch.nn.Linear(1, 1)
    keeper = PriorCheckpoints(np.array([0.5, 0.5]), first_step=20)
    with torch.no_grad():
        net.weight.fill_(1.0)
    keeper.offer(10, net, np.array([0.5, 0.5]))  # the best, but before first_step
    with torch.no_grad():
        net.weight.fill_(2.0)
    keeper.offer(20, net, np.array([0.6, 0.4]))
    with torch.no_grad():
        net.weight.fill_(3.0)
    keeper.offer(30, net, np.array([0.9, 0.1]))
    assert keeper.best_step == 20 and keeper.best_state is not None
    assert float(keeper.best_state["weight"]) == 2.0  # a copy, not the live weights
    assert [s for s, _ in keeper.log] == [10, 20, 30]


def test_adaptation_with_selection_returns_the_weights_of_the_chosen_step():
    rng = np.random.default_rng(0)
    source = rng.random((8, 16, 16)).astype(np.float32)
    labels = (source > 0.6).astype(np.int64)
    target = (1 - source) ** 2
    result = adapt_segmenter(
        FCN(tiny()), source, labels, target, taps=("encoder.1", "fuse"), strength=1.0, ramp_steps=10,
        max_steps=40, batch_size=4, augment=False, eval_every=None, device="cpu", seed=0, select_every=10,
        discriminator=DiscriminatorConfig(width=4, reduce=2, n_layers=2),
    )  # fmt: skip
    sel = result.selection
    assert sel is not None and [s for s, _ in sel.log] == [10, 20, 30, 40]
    assert sel.best_step is not None and sel.best_step >= 10 and sel.best_state is not None
    assert math.isclose(sel.best_divergence, min(d for _, d in sel.log), abs_tol=1e-5)
    for name, value in result.model.state_dict().items():
        torch.testing.assert_close(value, sel.best_state[name])
