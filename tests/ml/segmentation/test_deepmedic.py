import numpy as np
import pytest
import torch

from ml.active_learning.aggregate import aggregate_by_case
from ml.active_learning.scoring import least_confidence
from ml.segmentation.deepmedic import (
    DeepMedic,
    DeepMedicConfig,
    VolumePatchDataset,
    deepmedic_from_config,
    segment_volume,
    slice_items,
    tiny,
    train_deepmedic,
    volume_probabilities,
)


def _eval_model(config: DeepMedicConfig, seed: int = 0) -> DeepMedic:
    torch.manual_seed(seed)
    model = DeepMedic(config).eval()
    # Non-trivial BatchNorm statistics so eval mode is not the identity.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


def test_margins_multiple_and_receptive_field_are_as_computed_by_hand():
    # tiny: 3 layers of 3x3x3 per pathway, one context pathway subsampled (1, 3, 3).
    m = DeepMedic(tiny())
    assert m.normal_margin == (3, 3, 3)
    assert m.context_margins == [(3, 9, 9)]  # factor 3 x 3 layers x radius 1 in-plane
    assert m.margin == (3, 9, 9)
    assert m.multiple == (1, 3, 3)
    # normal: 7 voxels per axis; context: 3 cells of 3 voxels per side + 1 cell -> 3 x 7 = 21 in-plane.
    assert m.receptive_field == (7, 21, 21)
    assert m.input_size((2, 6, 9)) == (8, 24, 27)
    with pytest.raises(ValueError):
        m.input_size((2, 5, 9))


def test_two_context_pathways_of_the_paper_configuration():
    m = DeepMedic(DeepMedicConfig(factors=((3, 3, 3), (5, 5, 5))))
    assert m.normal_margin == (8, 8, 8)
    assert m.margin == (40, 40, 40)  # 5 x 8 layers x radius 1
    assert m.multiple == (15, 15, 15)
    assert m.receptive_field == (85, 85, 85)  # 5 x (2 x 8 + 1)


def test_output_shape_is_the_central_region():
    m = _eval_model(tiny())
    x = torch.randn(2, 1, *m.input_size((2, 6, 9)))
    assert m(x).shape == (2, 4, 2, 6, 9)


def test_tiled_inference_equals_one_whole_volume_pass():
    m = _eval_model(tiny(), seed=1)
    vol = np.random.default_rng(0).random((5, 20, 23)).astype(np.float32)
    whole = volume_probabilities(m, vol)
    tiled = volume_probabilities(m, vol, tile=(2, 6, 9))
    assert whole.shape == (4, 5, 20, 23)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    np.testing.assert_allclose(whole.sum(axis=0), 1.0, atol=1e-5)


def test_a_voxel_changes_exactly_the_outputs_whose_receptive_field_holds_it():
    m = _eval_model(tiny(), seed=2)
    x = torch.randn(1, 1, *m.input_size((1, 6, 6)))  # input (7, 24, 24), margin (3, 9, 9)
    base = m(x)
    y = x.clone()
    y[..., 3, 12, 23] += 10.0
    out = m(y)
    # Output columns 0-2 form context cell 0, whose 7-cell field covers input columns 0-20; the normal
    # pathway of column c sees columns c + 6 .. c + 12. Column 23 reaches only cell 1 (columns 3-5).
    assert torch.equal(out[..., 0:3], base[..., 0:3])
    assert not torch.allclose(out[..., 3:6], base[..., 3:6])


def test_probabilities_feed_the_active_learning_scores_per_slice_and_case():
    m = _eval_model(tiny())
    vol = np.random.default_rng(1).random((4, 12, 12)).astype(np.float32)
    items = slice_items(volume_probabilities(m, vol))
    assert items.shape == (4, 4, 12, 12)
    scores = least_confidence(items)
    assert scores.shape == (4,)
    cases, case_scores = aggregate_by_case(np.array([7, 7, 7, 7]), scores)
    assert cases.tolist() == [7] and case_scores[0] == pytest.approx(scores.mean())


def test_patch_dataset_gives_aligned_input_and_label_segments():
    m = DeepMedic(tiny())
    vols = np.zeros((1, 4, 15, 15), np.float32)
    labs = np.zeros((1, 4, 15, 15), np.int64)
    labs[0, 2, 7, 7] = 2
    vols[0, 2, 7, 7] = 1.0
    ds = VolumePatchDataset(vols, labs, m, (1, 3, 3), foreground_fraction=1.0)
    torch.manual_seed(0)
    x, y = ds[0]
    assert x.shape == (1, *m.input_size((1, 3, 3))) and y.shape == (1, 3, 3)
    # The foreground voxel is the centre of the output region and of the input segment.
    assert y[0, 1, 1] == 2
    centre = tuple(s // 2 for s in x.shape[1:])
    assert x[0][centre] == x.max()


def test_tiny_deepmedic_overfits_a_two_class_volume():
    rng = np.random.default_rng(0)
    vols = rng.normal(0, 0.1, (2, 4, 18, 18)).astype(np.float32)
    labs = np.zeros((2, 4, 18, 18), np.int64)
    labs[:, :, 5:13, 5:13] = 1
    vols[labs == 1] += 1.0
    cfg = DeepMedicConfig(**{**tiny().to_dict(), "n_classes": 2})  # type: ignore[arg-type]
    model, history = train_deepmedic(
        vols, labs, config=cfg, output_size=(2, 6, 6), max_steps=60, max_seconds=None, batch_size=4,
        lr=1e-2, eval_every=None, device="cpu", segments_per_epoch=8,
    )  # fmt: skip
    pred = segment_volume(model, vols[0])
    inter = ((pred == 1) & (labs[0] == 1)).sum()
    assert 2 * inter / ((pred == 1).sum() + (labs[0] == 1).sum()) > 0.9
    assert history.step == 60
    again = deepmedic_from_config(model.config.to_dict())
    assert again.margin == model.margin
