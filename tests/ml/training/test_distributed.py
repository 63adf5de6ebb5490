"""Data-parallel training through the same Trainer: two CPU processes with gloo, against one process."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ml.training.distributed import ShardedEpochSampler, current, init_from_env, make_sharded_loader, shutdown
from ml.training.trainer import Trainer, TrainerConfig, make_loader

N, FEATURES, PER_RANK_BATCH, WORLD, STEPS = 12, 6, 2, 2, 5


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, FEATURES, generator=g)
    y = (x[:, 0] - x[:, 2] > 0).long()
    return TensorDataset(x, y)


def _model() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.Tanh(), nn.Linear(8, 2))


def _accuracy(out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((out.argmax(1) == y).float().mean())}


def _config(checkpoint: Path | None = None) -> TrainerConfig:
    return TrainerConfig(
        max_steps=STEPS, patience=None, channels_last=False, amp=False, restore_best=False,
        checkpoint_every=2 if checkpoint else None, checkpoint_path=checkpoint, eval_every=2,
    )  # fmt: skip


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    info = init_from_env()
    assert info.world_size == WORLD and info.rank == rank
    model = _model()
    ds = _data()
    trainer = Trainer(
        model,
        nn.functional.cross_entropy,
        torch.optim.SGD(model.parameters(), lr=0.5),
        make_sharded_loader(ds, PER_RANK_BATCH, seed=3),
        DataLoader(ds, batch_size=N),
        _accuracy,
        device="cpu",
        config=_config(Path(out_dir) / "ckpt.pt"),
    )
    history = trainer.fit()
    torch.save(
        {"state": model.state_dict(), "step": history.step, "evals": len(history.evals)},
        Path(out_dir) / f"rank{rank}.pt",
    )
    shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_processes_train_exactly_like_one_process_on_the_combined_batch(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]

    # One process, the same order, batches of WORLD x PER_RANK_BATCH: DDP averages the ranks' gradients of
    # their halves, which is the gradient of the whole batch when the loss is a mean.
    model = _model()
    ds = _data()
    single = Trainer(
        model,
        nn.functional.cross_entropy,
        torch.optim.SGD(model.parameters(), lr=0.5),
        make_loader(ds, WORLD * PER_RANK_BATCH, seed=3),
        None,
        device="cpu",
        config=_config(),
    )
    assert single.fit().step == STEPS

    for result in ranks:
        assert result["step"] == STEPS
        for name, value in model.state_dict().items():
            torch.testing.assert_close(result["state"][name], value, rtol=1e-5, atol=1e-6)
    assert ranks[0]["evals"] > 0 and ranks[1]["evals"] == 0  # validation on rank 0 only
    assert (tmp_path / "ckpt.pt").exists()  # written by rank 0


def test_shards_cover_each_epoch_once_and_are_equal_in_length():
    samplers = [ShardedEpochSampler(10, rank, 3, seed=5) for rank in range(3)]
    for epoch in range(2):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [list(s) for s in samplers]
        assert {len(shard) for shard in shards} == {4}  # ceil(10 / 3), padded by wrapping around
        assert set().union(*shards) == set(range(10))
        g = torch.Generator().manual_seed(5 * 100_003 + epoch)
        order = torch.randperm(10, generator=g).tolist()
        assert [shards[i % 3][i // 3] for i in range(10)] == order  # interleaved, the epoch's order


def test_a_shard_can_resume_part_way_through_an_epoch():
    sampler = ShardedEpochSampler(9, 1, 2, seed=0)
    full = list(sampler)
    sampler.set_start(2)
    assert list(sampler) == full[2:] and len(sampler) == len(full) - 2


def test_bad_ranks_and_empty_data_are_refused():
    with pytest.raises(ValueError, match="rank 2 is outside a world of 2"):
        ShardedEpochSampler(4, 2, 2)
    with pytest.raises(ValueError, match="empty"):
        ShardedEpochSampler(0, 0, 1)


def test_a_single_process_is_not_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_from_env() == current()
    assert not current().active and current().is_main


def test_a_world_without_a_rendezvous_address_says_how_to_launch(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="launch with torchrun"):
        init_from_env()
