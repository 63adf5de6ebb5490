"""One training loop for every model family: early stopping on a validation metric, a time budget,
progress reporting, cancellation, mixed precision on GPU, and checkpoints with exact resume.

Batches are `(inputs, targets, ...)` tuples (or mappings with "image"/"label"); `inputs` is a tensor, or a
list/tuple of tensors for a model that takes several (`model(*inputs)`, as the reconstruction cascade's
`(x_zf, k0, mask)`). For a resume whose next
step equals the uninterrupted run's, build the train loader with `make_loader` (its shuffling depends only
on the seed and the epoch) and keep `num_workers=0`; random augmentation then draws from the global RNG,
whose state the checkpoint carries.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sized
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler

from ml.training import distributed
from ml.training.checkpoints import ModelCard, load_checkpoint, save_checkpoint
from ml.training.devices import autocast, pick_device, rng_state, set_rng_state

Inputs = torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]]


@dataclass(frozen=True)
class Progress:
    """What the platform forwards to the browser. `phase` is "train" or "val"."""

    step: int
    epoch: int
    loss: float
    metrics: dict[str, float]
    eta_s: float | None
    elapsed_s: float = 0.0
    phase: str = "train"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the platform's job-progress messages."""
        return asdict(self)


@dataclass
class TrainerConfig:
    """`eval_every`: steps between validations (None: once per epoch). `patience`: validations without
    improvement of `monitor` (a key of the validation metrics, "val_loss" always exists) before stopping."""

    max_epochs: int = 100
    max_steps: int | None = None
    max_seconds: float | None = None
    eval_every: int | None = None
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int | None = 10
    min_delta: float = 0.0
    progress_every: int = 10
    checkpoint_every: int | None = None
    checkpoint_path: Path | None = None
    amp: bool = True
    grad_clip: float | None = None
    restore_best: bool = True
    channels_last: bool = True  # for 4-D inputs: about 2x faster convolutions on CPU (oneDNN)
    # "cosine": linear warm-up over `warmup` of the run, then cosine decay to `min_lr_ratio` x the initial
    # rate, where the run's progress is the largest of steps/max_steps, time/max_seconds and
    # steps/(max_epochs x steps per epoch). A time-based schedule is not bit-reproducible.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup: float = 0.03
    min_lr_ratio: float = 0.02


@dataclass
class History:
    """`train_loss`: (step, loss) per step; `evals`: (step, metrics) per validation."""

    train_loss: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    best_metric: float | None = None
    best_step: int | None = None
    step: int = 0
    epoch: int = 0
    elapsed_s: float = 0.0
    stopped: str = ""
    card: ModelCard | None = None  # the model card with the final validation metrics, when one was given
    resumed_from_step: int | None = None  # the checkpoint's step when this run was resumed
    # Validation metrics of each run when a caller restarts collapsed runs (train_segmenter's `restarts`).
    attempts: list[dict[str, float]] = field(default_factory=list)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> list[int]:
    """The order of an epoch's samples: a permutation seeded by (seed, epoch) only, so a resume repeats it."""
    if not shuffle:
        return list(range(n))
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


class EpochShuffleSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch) only, and can start part-way through an epoch,
    so a resumed run sees the same batches as an uninterrupted one."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.start = epoch, 0

    def set_start(self, start: int) -> None:
        """Skip the first `start` samples of the current epoch (for one epoch)."""
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(self.n, self.seed, self.epoch, self.shuffle)[self.start :])

    def __len__(self) -> int:
        return self.n - self.start


def make_loader(
    dataset: Dataset[Any], batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> DataLoader[Any]:
    """A DataLoader (single process) whose order is resumable; see `EpochShuffleSampler`. Under torchrun
    (a process group is active) it is this rank's shard instead: `distributed.make_sharded_loader`."""
    if distributed.current().active:
        return distributed.make_sharded_loader(
            dataset, batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last
        )
    assert isinstance(dataset, Sized)
    sampler = EpochShuffleSampler(len(dataset), seed=seed, shuffle=shuffle)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=0)


def _split_batch(batch: Any) -> tuple[Any, torch.Tensor]:
    if isinstance(batch, Mapping):
        return batch["image"], batch["label"]
    return batch[0], batch[1]


def _sampler_of(loader: DataLoader[Any]) -> Any:
    batch_sampler = getattr(loader, "batch_sampler", None)
    return getattr(batch_sampler, "sampler", None) or getattr(loader, "sampler", None)


class Trainer:
    """Trains `model` on `train_loader`, validates on `val_loader` with `metric_fn(outputs, targets)`
    (averaged over batches weighted by batch size) and keeps the best weights."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        train_loader: DataLoader[Any],
        val_loader: DataLoader[Any] | None = None,
        metric_fn: MetricFn | None = None,
        *,
        device: torch.device | str | None = None,
        config: TrainerConfig | None = None,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        scheduler: Any | None = None,
        model_card: ModelCard | None = None,
    ) -> None:
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.config = config or TrainerConfig()
        self.model = model.to(self.device)
        if self.config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # Under torchrun (see ml/training/distributed.py) the model trains wrapped in DDP; `module` is the
        # plain model, which state dicts, checkpoints and validation (on rank 0 only) use.
        self.dist = distributed.current()
        self.module: nn.Module = self.model
        if self.dist.active:
            ids = [self.device.index or 0] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.module, device_ids=ids)
        self._last_eval_step: int | None = None
        self.loss_fn, self.optimizer = loss_fn, optimizer
        self.train_loader, self.val_loader, self.metric_fn = train_loader, val_loader, metric_fn
        self.progress, self.should_stop = progress, should_stop
        self.scheduler = scheduler
        self.model_card = model_card
        use_scaler = self.config.amp and self.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.history = History()
        self._base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self._elapsed = 0.0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._bad_evals = 0
        self._batch_in_epoch = 0
        self._resume_rng: dict[str, object] | None = None
        self._start: float | None = None
        self._elapsed_before = 0.0  # training seconds spent before a resume, counted against max_seconds

    # ---- public API -------------------------------------------------------------------------------

    def resume(self, path: str | Path) -> None:
        """Restore model, optimizer and counters; the next `fit` continues at the saved step."""
        state = load_checkpoint(
            path, self.module, self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
            map_location=self.device, restore_rng=False,
        )  # fmt: skip
        self.history.step, self.history.epoch = state.step, state.epoch
        self.history.best_metric = state.best_metric
        self._batch_in_epoch = state.batch_in_epoch
        self._resume_rng = state.rng
        self._bad_evals = int(state.extra.get("bad_evals", 0))
        self._elapsed_before = float(state.extra.get("elapsed_s", 0.0))
        self.history.best_step = state.extra.get("best_step")
        best = state.extra.get("best_state")
        if best is not None:
            self._best_state = {k: v.to(self.device) for k, v in best.items()}
        self.history.resumed_from_step = state.step

    def fit(self) -> History:
        cfg, h = self.config, self.history
        # A resumed run keeps the time it already spent: the budget covers the whole run, not each attempt.
        start = self._start = time.perf_counter() - self._elapsed_before
        steps_per_epoch = len(self.train_loader)
        done = False
        while not done and h.epoch < cfg.max_epochs:
            sampler = _sampler_of(self.train_loader)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(h.epoch)
            skip = self._batch_in_epoch
            if skip and hasattr(sampler, "set_start"):
                sampler.set_start(skip * (self.train_loader.batch_size or 1))
                skip = 0
            iterator = iter(self.train_loader)
            # The loader may draw from the global RNG when its iterator is made; restore the saved state
            # after that so the resumed run's next step draws the same numbers as the uninterrupted one.
            if self._resume_rng is not None:
                set_rng_state(self._resume_rng)
                self._resume_rng = None
            for _ in range(skip):
                next(iterator)
            for batch in iterator:
                self._elapsed = time.perf_counter() - start
                self._set_lr(steps_per_epoch)
                loss = self._train_step(batch)
                h.step += 1
                self._batch_in_epoch += 1
                h.train_loss.append((h.step, loss))
                elapsed = time.perf_counter() - start
                if self.progress is not None and h.step % cfg.progress_every == 0 and self.dist.is_main:
                    eta = self._eta(elapsed, steps_per_epoch)
                    self.progress(Progress(h.step, h.epoch, loss, {}, eta, elapsed, "train"))
                if cfg.eval_every is not None and h.step % cfg.eval_every == 0 and self._validate(start):
                    h.stopped, done = "early_stopping", True
                if cfg.checkpoint_every and cfg.checkpoint_path and h.step % cfg.checkpoint_every == 0:
                    if self.dist.is_main:
                        self.save(cfg.checkpoint_path)
                    distributed.barrier()
                if done or self._out_of_budget(elapsed):
                    done = True
                    break
            else:
                h.epoch += 1
                self._batch_in_epoch = 0
                if cfg.eval_every is None and self._validate(start):
                    h.stopped, done = "early_stopping", True
                if self.scheduler is not None:
                    self.scheduler.step()
                continue
        if not h.stopped:
            h.stopped = self._stop_reason(time.perf_counter() - start)
        if self.val_loader is not None and self._last_eval_step != h.step:
            self._validate(start)
        if cfg.restore_best and self._best_state is not None:
            self.module.load_state_dict(self._best_state)
        if self.dist.active:
            distributed.broadcast_state(self.module)  # rank 0 kept the best weights; every rank returns them
        h.elapsed_s = time.perf_counter() - start
        if self.model_card is not None:
            # The returned weights are the best ones when restore_best, so the card carries their metrics.
            best = [m for step, m in h.evals if step == h.best_step] if cfg.restore_best else []
            metrics = best[-1] if best else (h.evals[-1][1] if h.evals else {})
            h.card = replace(self.model_card, metrics=dict(metrics), step=h.step)
        return h

    def save(self, path: str | Path) -> Path:
        h = self.history
        card = None
        if self.model_card is not None:
            metrics = h.evals[-1][1] if h.evals else {}
            card = replace(self.model_card, metrics=dict(metrics))
        return save_checkpoint(
            path, self.module, self.optimizer, step=h.step, epoch=h.epoch,
            batch_in_epoch=self._batch_in_epoch, best_metric=h.best_metric, scheduler=self.scheduler,
            scaler=self.scaler, extra=self._checkpoint_extra(), card=card,
        )  # fmt: skip

    def _checkpoint_extra(self) -> dict[str, Any]:
        """Counters beyond the step, and the best weights so far, so a resumed run still returns them."""
        elapsed = time.perf_counter() - self._start if self._start is not None else self._elapsed_before
        return {
            "bad_evals": self._bad_evals,
            "elapsed_s": float(elapsed),
            "best_step": self.history.best_step,
            "best_state": {k: v.detach().cpu() for k, v in self._best_state.items()}
            if self._best_state is not None
            else None,
        }

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean validation loss and metrics over `val_loader`, weighted by batch size."""
        assert self.val_loader is not None
        was_training = self.module.training
        self.module.eval()
        sums: dict[str, float] = {}
        n_total = 0
        for batch in self.val_loader:
            x, y = self._inputs(batch)
            with autocast(self.device, self.config.amp):
                out = self._forward(x, self.module)  # never the DDP wrapper: only rank 0 validates
            out = out.float()
            n = int((x if isinstance(x, torch.Tensor) else x[0]).shape[0])
            values = {"val_loss": float(self.loss_fn(out, y))}
            if self.metric_fn is not None:
                values.update({k: float(v) for k, v in self.metric_fn(out, y).items()})
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * n
            n_total += n
        self.module.train(was_training)
        return {k: v / max(n_total, 1) for k, v in sums.items()}

    # ---- internals --------------------------------------------------------------------------------

    def _train_step(self, batch: Any) -> float:
        self.model.train()
        x, y = self._inputs(batch)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.config.amp):
            out = self._forward(x)
        loss = self.loss_fn(out.float(), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.history.step + 1}")
        self.scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.module.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def _set_lr(self, steps_per_epoch: int) -> None:
        cfg = self.config
        if cfg.lr_schedule == "constant":
            return
        fractions = [self.history.step / max(cfg.max_epochs * steps_per_epoch, 1)]
        if cfg.max_steps:
            fractions.append(self.history.step / cfg.max_steps)
        if cfg.max_seconds:
            fractions.append(self._elapsed / cfg.max_seconds)
        t = min(max(fractions), 1.0)
        if t < cfg.warmup:
            factor = (t + 1e-3) / (cfg.warmup + 1e-3)
        else:
            u = (t - cfg.warmup) / max(1.0 - cfg.warmup, 1e-9)
            factor = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * u))
        for group, base in zip(self.optimizer.param_groups, self._base_lrs, strict=True):
            group["lr"] = base * factor

    def _inputs(self, batch: Any) -> tuple[Inputs, torch.Tensor]:
        x, y = _split_batch(batch)
        y = y.to(self.device, non_blocking=True)
        if not isinstance(x, torch.Tensor):
            return tuple(part.to(self.device, non_blocking=True) for part in x), y
        x = x.to(self.device, non_blocking=True)
        if self.config.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _forward(self, x: Inputs, model: nn.Module | None = None) -> torch.Tensor:
        model = self.model if model is None else model
        out: torch.Tensor = model(x) if isinstance(x, torch.Tensor) else model(*x)
        return out

    def _validate(self, start: float) -> bool:
        """Run a validation; returns True when early stopping says stop."""
        if self.val_loader is None:
            return False
        cfg, h = self.config, self.history
        self._last_eval_step = h.step
        if not self.dist.is_main:
            return distributed.broadcast_flag(False, self.device)  # rank 0's early-stopping decision
        rng = rng_state()  # validation must not shift the training RNG stream
        metrics = self.evaluate()
        set_rng_state(rng)
        h.evals.append((h.step, metrics))
        value = metrics.get(cfg.monitor)
        if value is None:
            raise KeyError(f"monitor {cfg.monitor!r} not in validation metrics {sorted(metrics)}")
        better = h.best_metric is None or (
            value < h.best_metric - cfg.min_delta
            if cfg.mode == "min"
            else value > h.best_metric + cfg.min_delta
        )
        if better:
            h.best_metric, h.best_step, self._bad_evals = value, h.step, 0
            self._best_state = copy.deepcopy(
                {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            )
        else:
            self._bad_evals += 1
        if self.progress is not None:
            elapsed = time.perf_counter() - start
            loss = h.train_loss[-1][1] if h.train_loss else math.nan
            eta = self._eta(elapsed, len(self.train_loader))
            self.progress(Progress(h.step, h.epoch, loss, dict(metrics), eta, elapsed, "val"))
        stop = cfg.patience is not None and self._bad_evals >= cfg.patience
        return distributed.broadcast_flag(stop, self.device)

    def _out_of_budget(self, elapsed: float) -> bool:
        # Rank 0 decides (its clock, its cancel flag) so that every rank leaves at the same step.
        return distributed.broadcast_flag(self._stop_reason(elapsed) != "", self.device)

    def _stop_reason(self, elapsed: float) -> str:
        cfg, h = self.config, self.history
        if self.should_stop is not None and self.should_stop():
            return "cancelled"
        if cfg.max_steps is not None and h.step >= cfg.max_steps:
            return "max_steps"
        if cfg.max_seconds is not None and elapsed >= cfg.max_seconds:
            return "max_seconds"
        if h.epoch >= cfg.max_epochs:
            return "max_epochs"
        return ""

    def _eta(self, elapsed: float, steps_per_epoch: int) -> float | None:
        cfg, h = self.config, self.history
        done_here = max(len(h.train_loss), 1)
        per_step = elapsed / done_here
        total = cfg.max_epochs * steps_per_epoch
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        eta = max(total - h.step, 0) * per_step
        if cfg.max_seconds is not None:
            eta = min(eta, max(cfg.max_seconds - elapsed, 0.0))
        return eta
