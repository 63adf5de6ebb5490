import json

import numpy as np
import pytest
import torch
from torch import nn

from ml.classification import sononet
from ml.classification.infer import classify_clip, preprocess_frames
from ml.classification.localisation import heatmap_bbox, localise
from ml.classification.train import classifier_from_config, train_classifier


def test_tiny_sononet_maps_a_frame_to_14_logits_and_category_maps() -> None:
    model = sononet.SonoNet(sononet.tiny()).eval()
    x = torch.randn(2, 1, 224, 288)
    assert model(x).shape == (2, 14)
    assert model.category_maps(x).shape == (2, 14, 14, 18)


@pytest.mark.parametrize(
    ("make", "first", "last"),
    [(sononet.sononet16, 16, 128), (sononet.sononet32, 32, 256), (sononet.sononet64, 64, 512)],
)
def test_sononet_variants_have_13_convolutions_with_the_paper_widths(make, first, last) -> None:
    model = sononet.SonoNet(make())
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13
    assert convs[0].out_channels == first and convs[-1].out_channels == last
    assert model.adaptation[-2].out_channels == 14


def test_preprocessing_resizes_to_224_by_288_and_normalises_each_frame() -> None:
    frames = np.random.default_rng(0).integers(0, 255, (3, 300, 400), dtype=np.uint8)
    x = preprocess_frames(frames)
    assert x.shape == (3, 1, 224, 288)
    assert torch.allclose(x.mean(dim=(-2, -1)), torch.zeros(3, 1), atol=1e-4)
    assert torch.allclose(x.std(dim=(-2, -1), unbiased=False), torch.ones(3, 1), atol=1e-3)
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    assert torch.allclose(preprocess_frames(rgb), x, atol=1e-4)


def test_classify_clip_returns_probabilities_and_frame_sized_heatmaps() -> None:
    torch.manual_seed(0)
    model = sononet.SonoNet(sononet.tiny())
    frames = np.random.default_rng(0).random((3, 112, 144), dtype=np.float32)
    out = classify_clip(model, frames, torch.device("cpu"), heatmaps=True)
    assert out.probs.shape == (3, 14)
    assert np.allclose(out.probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(out.predicted, out.probs.argmax(axis=1))
    assert out.localisations is not None and len(out.localisations) == 3
    assert out.localisations[0].heatmap.shape == (112, 144)


class _HotSpotModel(nn.Module):
    """Category map k = k x (the squared input average-pooled by 16): class 13 lights up where the image
    is bright, and its score's gradient (2 k x / area) too."""

    def category_maps(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.avg_pool2d(x**2, 16)
        return torch.cat([pooled * k for k in range(14)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.category_maps(x).mean(dim=(-2, -1))


def _planted() -> torch.Tensor:
    x = torch.zeros(1, 1, 224, 288)
    x[..., 96:128, 160:208] = 1.0
    return x


@pytest.mark.parametrize("method", ["category_map", "saliency"])
def test_localisation_box_covers_a_planted_hot_spot(method) -> None:
    loc = localise(_HotSpotModel(), _planted(), method)
    y0, x0, y1, x1 = loc.bbox
    assert loc.class_index == 13
    assert loc.heatmap.shape == (224, 288)
    assert 0.0 <= loc.heatmap.min() and loc.heatmap.max() == pytest.approx(1.0)
    assert y0 <= 100 and y1 >= 124 and x0 <= 164 and x1 >= 204  # covers the spot (bar its blurred rim)
    assert (y1 - y0) * (x1 - x0) < 4 * 32 * 48  # and stays near it


def test_bbox_picks_the_largest_component() -> None:
    heat = np.zeros((20, 20), dtype=np.float32)
    heat[2:4, 2:4] = 1.0
    heat[10:16, 8:18] = 0.9
    assert heatmap_bbox(heat, 0.5) == (10, 8, 16, 18)
    assert heatmap_bbox(np.zeros((5, 5)), 0.5) == (0, 0, 0, 0)


def test_short_classifier_training_lowers_the_loss() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    labels = np.arange(32) % 2
    frames = rng.random((32, 32, 48), dtype=np.float32) * 0.2
    frames[labels == 1, 8:24, 8:24] += 0.8  # class 1 has a bright square
    model, history = train_classifier(
        frames, labels, config=sononet.SonoNetConfig(features=4, n_classes=2, input_size=(32, 48)),
        max_steps=30, max_seconds=None, batch_size=8, lr=1e-2, augment=False, eval_every=15, patience=None,
        device="cpu",
    )  # fmt: skip
    losses = [loss for _, loss in history.train_loss]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert history.evals[-1][1]["accuracy"] >= 0.75
    assert model(torch.zeros(1, 1, 32, 48)).shape == (1, 2)
    assert history.card is not None
    rebuilt = classifier_from_config(json.loads(json.dumps(history.card.config)))
    assert rebuilt.config == model.config


def test_an_interrupted_classifier_run_resumed_from_its_checkpoint_ends_with_the_same_weights(
    tmp_path,
) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    labels = np.arange(16) % 2
    frames = rng.random((16, 32, 48), dtype=np.float32)
    common = dict(config=sononet.SonoNetConfig(features=4, n_classes=2, input_size=(32, 48)), max_seconds=None,
                  batch_size=4, augment=True, eval_every=None, patience=None, device="cpu",
                  lr_schedule="constant", restore_best=False, max_steps=6)  # fmt: skip
    full, _ = train_classifier(frames, labels, **common)  # type: ignore[arg-type]
    calls = iter(range(100))
    _, first = train_classifier(
        frames, labels, should_stop=lambda: next(calls) >= 2, checkpoint_path=tmp_path / "c.pt",
        checkpoint_every=3, **common,  # type: ignore[arg-type]
    )  # fmt: skip
    assert first.step == 3 and first.stopped == "cancelled"
    resumed, history = train_classifier(frames, labels, resume_from=tmp_path / "c.pt", **common)  # type: ignore[arg-type]
    assert history.resumed_from_step == 3 and history.step == 6
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
