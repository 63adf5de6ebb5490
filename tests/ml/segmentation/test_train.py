import numpy as np
import torch

from ml.data.cardiac_phantom import make_cardiac_cine
from ml.segmentation import fcn
from ml.segmentation.losses import dice_per_class, soft_dice_loss
from ml.segmentation.train import segmenter_from_config, train_segmenter
from ml.training.checkpoints import load_checkpoint, read_model_card, save_checkpoint


def test_short_training_run_lowers_the_loss_and_the_saved_model_can_be_rebuilt(tmp_path) -> None:
    torch.set_num_threads(1)
    cine = make_cardiac_cine(0, n_slices=4, n_phases=8, size=48)
    images, labels = cine.image.reshape(-1, 48, 48), cine.labels.reshape(-1, 48, 48)
    model, history = train_segmenter(
        images, labels, config=fcn.tiny(), max_steps=40, max_seconds=None, batch_size=8, lr=1e-2,
        augment=False, eval_every=20, patience=None, device="cpu",
    )  # fmt: skip
    losses = [loss for _, loss in history.train_loss]
    assert history.step == 40
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert "dice_lv" in history.evals[-1][1]
    model.eval()
    x = torch.randn(1, 1, 48, 48)
    assert model(x).shape == (1, 4, 48, 48)

    # The platform's path: save with the card, rebuild from the card's config, load the weights.
    assert history.card is not None and "dice_mean" in history.card.metrics
    path = save_checkpoint(
        tmp_path / "seg.pt", model, step=history.step, epoch=history.epoch, card=history.card
    )
    card = read_model_card(path)
    rebuilt = segmenter_from_config(card.config)
    load_checkpoint(path, rebuilt)
    # The trained model is channels-last, the rebuilt one not: equal up to float rounding.
    assert torch.allclose(rebuilt.eval()(x), model(x), atol=1e-5)


def test_hard_dice_per_class_matches_a_hand_count() -> None:
    target = torch.tensor([[[1, 1, 2, 0], [3, 3, 3, 0]]])
    pred = torch.tensor([[[1, 0, 2, 2], [3, 3, 0, 0]]])
    d = dice_per_class(pred, target, 4)
    assert torch.allclose(d, torch.tensor([2 * 1 / 3, 2 * 1 / 3, 2 * 2 / 5]))


def test_soft_dice_loss_is_near_zero_for_a_confident_correct_prediction() -> None:
    target = torch.randint(0, 4, (2, 8, 8))
    logits = torch.nn.functional.one_hot(target, 4).permute(0, 3, 1, 2).float() * 50
    assert float(soft_dice_loss(logits, target)) < 1e-3
    assert float(soft_dice_loss(-logits, target)) > 0.9


def test_a_segmenter_run_resumes_from_its_checkpoint(tmp_path) -> None:
    torch.set_num_threads(1)
    cine = make_cardiac_cine(1, n_slices=2, n_phases=4, size=32)
    images, labels = cine.image.reshape(-1, 32, 32), cine.labels.reshape(-1, 32, 32)
    common = dict(config=fcn.tiny(), max_seconds=None, batch_size=4, augment=False, eval_every=None,
                  patience=None, device="cpu", checkpoint_path=tmp_path / "seg.pt", checkpoint_every=2)  # fmt: skip
    _, first = train_segmenter(images, labels, max_steps=2, **common)  # type: ignore[arg-type]
    assert first.resumed_from_step is None and (tmp_path / "seg.pt").exists()
    _, resumed = train_segmenter(images, labels, max_steps=5, resume_from=tmp_path / "seg.pt", **common)  # type: ignore[arg-type]
    assert resumed.resumed_from_step == 2 and resumed.step == 5
    assert [step for step, _ in resumed.train_loss] == [3, 4, 5]
