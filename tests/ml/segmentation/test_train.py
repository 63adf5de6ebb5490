import numpy as np
import torch

from ml.data.cardiac_phantom import make_cardiac_cine
from ml.segmentation import fcn
from ml.segmentation.losses import dice_per_class, soft_dice_loss
from ml.segmentation.train import (
    RESTART_SEED_STRIDE,
    returned_metrics,
    segmenter_from_config,
    train_segmenter,
    worst_class_dice,
)
from ml.training.checkpoints import load_checkpoint, read_model_card, save_checkpoint
from ml.training.trainer import History


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


def test_the_worst_class_dice_ignores_the_mean_and_the_loss() -> None:
    metrics = {"val_loss": 0.1, "dice_lv": 0.9, "dice_myo": 0.8, "dice_rv": 0.0, "dice_mean": 0.5667}
    assert worst_class_dice(metrics) == 0.0
    assert worst_class_dice({"val_loss": 0.1}) == 1.0


def test_the_returned_metrics_are_the_best_validations_when_restoring_the_best_else_the_last() -> None:
    history = History(evals=[(10, {"dice_mean": 0.4}), (20, {"dice_mean": 0.7}), (30, {"dice_mean": 0.6})])
    history.best_step = 20
    assert returned_metrics(history, restore_best=True) == {"dice_mean": 0.7}
    assert returned_metrics(history, restore_best=False) == {"dice_mean": 0.6}
    assert returned_metrics(History(), restore_best=False) == {}


def _small_set() -> tuple[np.ndarray, np.ndarray]:
    cine = make_cardiac_cine(1, n_slices=2, n_phases=4, size=32)
    return cine.image.reshape(-1, 32, 32), cine.labels.reshape(-1, 32, 32)


def test_a_run_that_clears_the_class_threshold_is_not_restarted_and_equals_a_run_without_restarts() -> None:
    torch.set_num_threads(1)
    images, labels = _small_set()
    common = dict(config=fcn.tiny(), max_steps=4, max_seconds=None, batch_size=4, augment=False,
                  eval_every=None, patience=None, device="cpu", restore_best=False)  # fmt: skip
    plain, _ = train_segmenter(images, labels, **common)  # type: ignore[arg-type]
    once, history = train_segmenter(images, labels, restarts=2, min_class_dice=0.0, **common)  # type: ignore[arg-type]
    assert len(history.attempts) == 1
    for a, b in zip(plain.state_dict().values(), once.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_collapsed_runs_restart_from_new_initialisations_and_the_best_validation_run_is_returned() -> None:
    torch.set_num_threads(1)
    images, labels = _small_set()
    common = dict(config=fcn.tiny(), max_steps=4, max_seconds=None, batch_size=4, augment=False,
                  eval_every=None, patience=None, device="cpu", restore_best=False,
                  val_images=images[:4], val_labels=labels[:4])  # fmt: skip
    # (A given validation set: a run's seed then changes its initialisation and batch order only.)
    # No run can reach a Dice above 1: every run counts as collapsed, so all 1 + 2 runs happen.
    model, history = train_segmenter(images, labels, restarts=2, min_class_dice=1.1, **common)  # type: ignore[arg-type]
    assert len(history.attempts) == 3
    means = [m["dice_mean"] for m in history.attempts]
    best = int(np.argmax(means))
    assert history.evals[-1][1]["dice_mean"] == means[best]
    # The returned model is the best run's: the same weights as a single run from that run's seed.
    again, _ = train_segmenter(images, labels, seed=best * RESTART_SEED_STRIDE, **common)  # type: ignore[arg-type]
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # Restarts draw new initialisations: the runs differ.
    first, _ = train_segmenter(images, labels, **common)  # type: ignore[arg-type]
    second, _ = train_segmenter(images, labels, seed=RESTART_SEED_STRIDE, **common)  # type: ignore[arg-type]
    assert not torch.equal(next(iter(first.state_dict().values())), next(iter(second.state_dict().values())))


def test_only_the_first_run_writes_checkpoints(tmp_path) -> None:
    torch.set_num_threads(1)
    images, labels = _small_set()
    common = dict(config=fcn.tiny(), max_steps=4, max_seconds=None, batch_size=4, augment=False,
                  eval_every=None, patience=None, device="cpu", restore_best=False,
                  val_images=images[:4], val_labels=labels[:4])  # fmt: skip
    first, _ = train_segmenter(images, labels, **common)  # type: ignore[arg-type]
    _, history = train_segmenter(
        images, labels, restarts=1, min_class_dice=1.1, checkpoint_path=tmp_path / "seg.pt",
        checkpoint_every=2, **common,
    )  # type: ignore[arg-type]  # fmt: skip
    assert len(history.attempts) == 2
    saved = fcn.FCN(fcn.tiny())
    load_checkpoint(tmp_path / "seg.pt", saved)
    for a, b in zip(first.state_dict().values(), saved.state_dict().values(), strict=True):
        assert torch.allclose(a, b)
