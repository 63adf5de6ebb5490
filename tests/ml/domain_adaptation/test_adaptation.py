import itertools
import math

import numpy as np
import torch

from ml.domain_adaptation.adversarial import AdversarialConfig
from ml.domain_adaptation.discriminator import DiscriminatorConfig
from ml.domain_adaptation.measures import feature_gap, pooled_features
from ml.domain_adaptation.segmentation import adapt_segmenter
from ml.segmentation.fcn import FCN, tiny


def _domains(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squares on noise; the target has inverted contrast (a shift per-image normalisation cannot undo)."""
    labels = np.zeros((n, 32, 32), np.int64)
    for i in range(n):
        y, x = rng.integers(4, 16, size=2)
        labels[i, y : y + 12, x : x + 12] = 1
    source = (0.2 + 0.6 * labels + rng.normal(0, 0.05, labels.shape)).astype(np.float32)
    target = (0.8 - 0.6 * labels + rng.normal(0, 0.05, labels.shape)).astype(np.float32)
    return source, labels, target


def test_strength_ramps_linearly_after_the_delay():
    cfg = AdversarialConfig(taps=("fuse",), strength=0.2, delay_steps=10, ramp_steps=20)
    assert [cfg.strength_at(s) for s in (0, 9, 10, 20, 30, 100)] == [0.0, 0.0, 0.0, 0.1, 0.2, 0.2]


def test_a_tiny_adaptation_run_brings_target_features_toward_the_source():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    source, labels, target = _domains(16, rng)
    model = FCN(tiny())
    names = ("encoder.1", "encoder.3", "fuse")

    def gap(net: torch.nn.Module) -> float:
        def norm(a: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(a)[:, None]
            return (t - t.mean(dim=(2, 3), keepdim=True)) / t.std(dim=(2, 3), keepdim=True)

        return feature_gap(
            pooled_features(net, names, norm(source)), pooled_features(net, names, norm(target))
        )

    before = gap(model)

    def run(strength: float):  # type: ignore[no-untyped-def]
        return adapt_segmenter(
            model, source, labels, target, taps=names, strength=strength, ramp_steps=5, max_steps=30,
            batch_size=8, lr=3e-3, augment=False, eval_every=None, device="cpu", seed=0,
            discriminator=DiscriminatorConfig(width=8, reduce=4, n_layers=2),
        )  # fmt: skip

    # The same run without reversal (strength 0: the discriminator learns, the segmenter ignores it) is the
    # control: both see the same batches, so the difference is the adversarial gradient.
    control, adapted = run(0.0), run(1.0)
    assert gap(adapted.model) < gap(control.model)
    assert np.mean(adapted.domain.accuracy[-10:]) < np.mean(control.domain.accuracy[-10:])
    assert len(adapted.domain.accuracy) == 30 and adapted.domain.strength[-1] == 1.0
    # The original model is untouched (adaptation works on a copy) and the hooks are gone.
    assert gap(model) == before
    assert all(not m._forward_hooks for m in adapted.model.modules())


def test_batchnorm_recalibration_gives_the_exact_target_statistics_and_keeps_weights():
    from ml.domain_adaptation.batchnorm import recalibrate_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1, bias=False), torch.nn.BatchNorm2d(2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -2.0]).view(2, 1, 1, 1))
    x = torch.randn(10, 1, 4, 4) * 3 + 1
    feats = torch.cat([x, -2 * x], dim=1)
    # Equal batches: the cumulative average of batch means is the mean over all images.
    out = recalibrate_batchnorm(net, x, batch_size=5)
    torch.testing.assert_close(out[1].running_mean, feats.mean(dim=(0, 2, 3)))
    one = recalibrate_batchnorm(net, x, batch_size=10)  # one batch: BatchNorm's unbiased variance
    torch.testing.assert_close(one[1].running_var, feats.transpose(0, 1).reshape(2, -1).var(dim=1))
    torch.testing.assert_close(out[0].weight, net[0].weight)
    assert float(net[1].running_mean.abs().sum()) == 0.0  # the original is untouched
    assert not out.training


def test_separate_domain_passes_normalise_each_domain_with_its_own_batch():
    rng = np.random.default_rng(1)
    source, labels, target = _domains(8, rng)
    model = FCN(tiny())
    seen: list[int] = []

    def run(separate: bool) -> None:
        seen.clear()
        bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        # adapt_segmenter trains a copy, so a global hook records the batch size of each training-mode
        # call of the first BatchNorm layer's kind.
        handle = torch.nn.modules.module.register_module_forward_hook(
            lambda m, inputs, out: (
                seen.append(int(inputs[0].shape[0]))
                if isinstance(m, torch.nn.BatchNorm2d) and m.training and m.num_features == bn.num_features
                else None
            )
        )
        try:
            adapt_segmenter(
                model, source, labels, target, taps=("encoder.1", "fuse"), strength=1.0, ramp_steps=1,
                max_steps=2, batch_size=4, augment=False, eval_every=None, device="cpu", seed=0,
                separate_domains=separate, discriminator=DiscriminatorConfig(width=4, reduce=2, n_layers=2),
            )  # fmt: skip
        finally:
            handle.remove()

    run(separate=False)
    assert set(seen) == {8}  # 4 source + 4 target in one batch
    run(separate=True)
    assert set(seen) == {4}  # each domain alone


def test_mean_entropy_by_hand():
    from ml.domain_adaptation.adversarial import mean_entropy

    uniform = torch.zeros(2, 4, 3, 3)
    assert torch.isclose(mean_entropy(uniform), torch.log(torch.tensor(4.0)))
    confident = torch.tensor([[[10.0]], [[-10.0]]])[None].expand(1, 2, 1, 1)
    q = torch.sigmoid(torch.tensor(-20.0, dtype=torch.float64))  # the unlikely class's probability
    expected = (-(q * torch.log(q) + (1 - q) * torch.log1p(-q))).float()
    assert torch.isclose(mean_entropy(confident), expected, atol=1e-6)


def test_sigmoid_ramp_follows_ganin_and_lempitsky_and_reaches_the_strength():
    cfg = AdversarialConfig(taps=("fuse",), strength=0.5, delay_steps=10, ramp_steps=100, ramp="sigmoid")
    assert cfg.strength_at(0) == 0.0 and cfg.strength_at(10) == 0.0
    assert abs(cfg.strength_at(60) - 0.5 * (2 / (1 + math.exp(-5.0)) - 1)) < 1e-12
    assert abs(cfg.strength_at(110) - 0.5 * (2 / (1 + math.exp(-10.0)) - 1)) < 1e-12
    assert cfg.strength_at(500) == cfg.strength_at(110)
    steps = [cfg.strength_at(s) for s in range(10, 111)]
    assert all(b > a for a, b in itertools.pairwise(steps))
    linear = AdversarialConfig(taps=("fuse",), strength=0.5, delay_steps=10, ramp_steps=100)
    assert cfg.strength_at(30) > linear.strength_at(30)
