import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ml.training.checkpoints import ModelCard, card_path, read_model_card, training_data_hash
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import Progress, Trainer, TrainerConfig, make_loader


def _data(n: int = 64) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return TensorDataset(x, y)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def _accuracy(out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((out.argmax(1) == y).float().mean())}


def _trainer(model: nn.Module, config: TrainerConfig, **kwargs: object) -> Trainer:
    ds = _data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    return Trainer(
        model,
        nn.functional.cross_entropy,
        opt,
        make_loader(ds, 8, seed=3),
        DataLoader(ds, batch_size=32),
        _accuracy,
        device="cpu",
        config=config,
        **kwargs,  # type: ignore[arg-type]
    )


def test_pick_device_honours_cpu() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in {"cpu", "cuda", "mps"}


def test_training_loss_decreases_and_progress_is_reported() -> None:
    seed_everything(0)
    events: list[Progress] = []
    trainer = _trainer(
        _model(), TrainerConfig(max_epochs=6, progress_every=4, patience=None), progress=events.append
    )
    history = trainer.fit()
    first = np.mean([loss for _, loss in history.train_loss[:8]])
    last = np.mean([loss for _, loss in history.train_loss[-8:]])
    assert last < 0.7 * first
    assert history.step == 6 * 8
    assert any(e.phase == "train" for e in events) and any(e.phase == "val" for e in events)
    val = [e for e in events if e.phase == "val"]
    assert "accuracy" in val[-1].metrics and val[-1].eta_s is not None


def test_should_stop_cancels_the_run() -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    history = _trainer(_model(), TrainerConfig(max_epochs=50), should_stop=stop).fit()
    assert history.stopped == "cancelled"
    assert history.step == 3


def test_early_stopping_stops_after_patience_without_improvement() -> None:
    model = _model()
    for p in model.parameters():
        p.requires_grad_(False)
    model[0].bias.requires_grad_(True)
    cfg = TrainerConfig(max_epochs=50, monitor="val_loss", mode="min", patience=2, min_delta=10.0)
    history = _trainer(model, cfg).fit()
    assert history.stopped == "early_stopping"
    assert len(history.evals) == 3


def test_checkpoint_resume_continues_at_saved_step_with_identical_weights(tmp_path) -> None:
    cfg = TrainerConfig(max_steps=20, max_epochs=100, patience=None, eval_every=None)
    seed_everything(1)
    full = _trainer(_model(), cfg)
    full.fit()

    seed_everything(1)
    first = _trainer(_model(), TrainerConfig(max_steps=11, max_epochs=100, patience=None))
    first.fit()
    ckpt = first.save(tmp_path / "run.pt")

    seed_everything(999)  # the checkpoint, not the caller's seed, decides what happens next
    resumed = _trainer(_model(), cfg)
    resumed.resume(ckpt)
    assert resumed.history.step == 11
    resumed.fit()
    assert resumed.history.step == 20
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_writes_a_model_card(tmp_path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    card = ModelCard(config={"width": 4}, training_data_hash=training_data_hash(arrays=[x]), metrics={})
    trainer = _trainer(_model(), TrainerConfig(max_epochs=1), model_card=card)
    trainer.fit()
    path = trainer.save(tmp_path / "m.pt")
    assert card_path(path).exists()
    read = read_model_card(path)
    assert read.config == {"width": 4}
    assert read.step == trainer.history.step
    assert "accuracy" in read.metrics
    assert read.torch_version == torch.__version__


def test_training_data_hash_depends_on_content_shape_and_ids() -> None:
    a = np.zeros((2, 3), dtype=np.float32)
    assert training_data_hash(arrays=[a]) == training_data_hash(arrays=[a.copy()])
    assert training_data_hash(arrays=[a]) != training_data_hash(arrays=[a.reshape(3, 2)])
    b = a.copy()
    b[0, 0] = 1
    assert training_data_hash(arrays=[a]) != training_data_hash(arrays=[b])
    assert training_data_hash(annotation_ids=[3, 1, 2]) == training_data_hash(annotation_ids=[1, 2, 3])
    assert training_data_hash(annotation_ids=[1, 2]) != training_data_hash(annotation_ids=[1, 2, 3])


def test_a_resumed_run_keeps_its_best_weights_and_counts_the_time_already_spent(tmp_path) -> None:
    seed_everything(2)
    first = _trainer(_model(), TrainerConfig(max_steps=16, max_epochs=100, patience=None, eval_every=4))
    first.fit()
    best_step = first.history.best_step
    assert best_step is not None
    path = first.save(tmp_path / "run.pt")
    spent = torch.load(path, weights_only=False)["extra"]["elapsed_s"]
    assert spent > 0

    # A validation that never improves (min_delta huge) after the resume: the best weights are the saved ones.
    resumed = _trainer(
        _model(), TrainerConfig(max_steps=24, max_epochs=100, patience=None, eval_every=4, min_delta=1e9)
    )
    resumed.resume(path)
    assert resumed.history.resumed_from_step == 16 and resumed.history.best_step == best_step
    resumed.fit()
    assert resumed.history.step == 24 and resumed.history.best_step == best_step
    for a, b in zip(first._best_state.values(), resumed.model.state_dict().values(), strict=True):  # type: ignore[union-attr]
        assert torch.equal(a, b)
    assert resumed.history.elapsed_s >= spent

    # The time budget covers the whole run: a run resumed past its max_seconds stops at once.
    late = _trainer(_model(), TrainerConfig(max_seconds=spent / 2, max_epochs=100, patience=None))
    late.resume(path)
    history = late.fit()
    assert history.stopped == "max_seconds" and history.step == 17


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * scale[:, None]


def test_a_model_with_several_inputs_takes_them_from_a_tuple_in_the_batch() -> None:
    seed_everything(0)
    base = _data()
    x, y = base.tensors
    scale = torch.full((len(x),), 2.0)

    class Pairs(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(x)

        def __getitem__(self, i: int):
            return (x[i], scale[i]), y[i]

    model = _TwoInputs()
    trainer = Trainer(
        model,
        nn.functional.cross_entropy,
        torch.optim.Adam(model.parameters(), lr=1e-2),
        make_loader(Pairs(), 8),
        DataLoader(Pairs(), batch_size=32),
        _accuracy,
        device="cpu",
        config=TrainerConfig(max_epochs=3, patience=None),
    )
    history = trainer.fit()
    assert history.step == 24 and history.evals[-1][1]["accuracy"] > 0.6
