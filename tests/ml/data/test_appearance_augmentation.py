import numpy as np
import torch

from ml.data.appearance_augmentation import (
    RandomBiasField,
    RandomBlur,
    RandomNoise,
    RandomTransferCurve,
    appearance_training_transform,
    bias_field,
    gaussian_blur,
    piecewise_linear,
    random_curve,
    segmentation_transform,
)


def test_piecewise_linear_matches_numpy_interp_including_outside_the_knots():
    xs = torch.tensor([0.0, 0.2, 0.45, 0.75, 1.0])
    ys = torch.tensor([0.15, 0.55, 0.3, 0.75, 0.7])
    x = torch.linspace(-0.2, 1.2, 57)
    expected = np.interp(x.numpy(), xs.numpy(), ys.numpy())
    np.testing.assert_allclose(piecewise_linear(x, xs, ys).numpy(), expected, atol=1e-6)


def test_piecewise_linear_hand_computed_midpoints():
    xs, ys = torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.0, 1.0, 0.0])
    out = piecewise_linear(torch.tensor([0.25, 0.5, 0.75, 1.0]), xs, ys)
    assert torch.allclose(out, torch.tensor([0.5, 1.0, 0.5, 0.0]))


def test_random_curve_spans_zero_to_one_and_monotonic_curves_do_not_decrease():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        xs, ys = random_curve(6, True, g)
        assert xs[0] == 0 and xs[-1] == 1 and bool((xs.diff() >= 0).all())
        assert bool((ys.diff() >= 0).all()) and float(ys.min()) >= 0 and float(ys.max()) <= 1


def test_transfer_curve_can_reverse_the_order_of_two_tissues():
    image = torch.zeros(1, 8, 8)
    image[:, :, :4] = 0.3
    image[:, :, 4:] = 0.7
    label = torch.zeros(8, 8, dtype=torch.long)
    g = torch.Generator().manual_seed(1)
    t = RandomTransferCurve(p=1.0, generator=g)
    orders = set()
    for _ in range(40):
        out, lab = t(image, label)
        assert lab is label and out.shape == image.shape
        assert float(out.min()) >= 0 and float(out.max()) <= 1
        orders.add(bool(out[0, 0, 0] < out[0, 0, 7]))
    assert orders == {True, False}


def test_bias_field_stays_within_its_strength_and_is_not_flat():
    f = bias_field((16, 20), 0.3, torch.Generator().manual_seed(2))
    assert f.shape == (16, 20)
    assert float(f.min()) >= 0.7 - 1e-6 and float(f.max()) <= 1.3 + 1e-6
    assert float(f.std()) > 0.01


def test_gaussian_blur_keeps_a_constant_image_and_the_mass_of_a_spike():
    flat = torch.full((1, 9, 9), 0.4)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat)
    spike = torch.zeros(1, 15, 15)
    spike[0, 7, 7] = 1.0
    out = gaussian_blur(spike, 1.0)
    assert abs(float(out.sum()) - 1.0) < 1e-5 and float(out[0, 7, 7]) < 0.2
    assert torch.equal(gaussian_blur(spike, 0.0), spike)


def test_probability_zero_leaves_the_image_unchanged():
    image = torch.rand(1, 12, 12)
    for t in (RandomTransferCurve(p=0.0), RandomBiasField(p=0.0), RandomBlur(p=0.0), RandomNoise(p=0.0)):
        assert torch.equal(t(image, None).image, image)


def test_noise_changes_the_image_by_about_its_sigma():
    image = torch.full((1, 64, 64), 0.5)
    image[:, :, 32:] = 1.0
    out = RandomNoise(
        (0.05, 0.05), max_correlation_px=0.0, p=1.0, generator=torch.Generator().manual_seed(3)
    )(image, None).image
    diff = out - image
    assert 0.01 < float(diff.std()) < 0.06


def test_appearance_transform_is_seeded_and_normalises_and_keeps_labels_aligned_with_the_default():
    image = torch.rand(1, 32, 32)
    label = (image[0] > 0.5).long()
    a = appearance_training_transform(torch.Generator().manual_seed(4))(image, label)
    b = appearance_training_transform(torch.Generator().manual_seed(4))(image, label)
    assert torch.equal(a.image, b.image) and a.label is not None and b.label is not None
    assert torch.equal(a.label, b.label)
    assert abs(float(a.image.mean())) < 1e-4 and abs(float(a.image.std(unbiased=False)) - 1) < 1e-3
    plain = segmentation_transform(False)(image, label)
    assert torch.equal(plain.label, label)  # type: ignore[arg-type]
