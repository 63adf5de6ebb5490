"""A DeepMedic-style 3D segmenter (Kamnitsas et al., MedIA 2017) for short-axis stacks and other volumes.

A normal-resolution pathway and one or more context pathways see the same output region: each is a stack of
valid (unpadded) conv-BN-ReLU layers; a context pathway reads a larger region average-pooled by its
`factor`, and its output is repeated back up by the same factor. The pathways are concatenated and mapped
to class scores by 1x1x1 layers. The network is fully convolutional: an input of spatial size o + 2 x margin
gives scores for the central o voxels (o a multiple of `multiple` on each axis), so inference can run on one
large segment or on tiles whose origins lie on the `multiple` grid with the same result.

Shapes are (N, C, D, H, W) with D the slice axis. Per axis a, with r = (kernel_a - 1) / 2 and L layers:
normal margin L_n r, context margin factor_a L_c r; `margin` is the largest of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ml.segmentation.losses import dice_metrics
from ml.training.checkpoints import ModelCard, training_data_hash
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import History, Progress, Trainer, TrainerConfig, make_loader

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class DeepMedicConfig:
    """`normal_channels`/`context_channels`: output channels of each valid conv layer of the pathways (the
    paper: 30, 30, 40, 40, 40, 40, 50, 50); `factors`: the subsampling factor (D, H, W) of each context
    pathway; `fc_channels`: the 1x1x1 layers after concatenation (the paper: 150, 150)."""

    in_channels: int = 1
    n_classes: int = 4
    normal_channels: tuple[int, ...] = (30, 30, 40, 40, 40, 40, 50, 50)
    context_channels: tuple[int, ...] = (30, 30, 40, 40, 40, 40, 50, 50)
    factors: tuple[Triple, ...] = ((3, 3, 3),)
    kernel: Triple = (3, 3, 3)
    fc_channels: tuple[int, ...] = (150, 150)
    dropout: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def tiny() -> DeepMedicConfig:
    """For tests: 3 layers per pathway, one context pathway subsampled by 3 in-plane only (short-axis
    stacks have few, thick slices)."""
    return DeepMedicConfig(
        normal_channels=(4, 4, 6), context_channels=(4, 4, 6), factors=((1, 3, 3),), fc_channels=(8,)
    )


def short_axis() -> DeepMedicConfig:
    """A small configuration for cine short-axis stacks: through-plane kernel 3, two context pathways."""
    return DeepMedicConfig(
        normal_channels=(12, 12, 16, 16, 20),
        context_channels=(12, 12, 16, 16, 20),
        factors=((1, 3, 3), (1, 5, 5)),
        kernel=(3, 3, 3),
        fc_channels=(48,),
    )


def _block(c_in: int, c_out: int, kernel: Triple) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)
    )


def _pathway(c_in: int, channels: Sequence[int], kernel: Triple) -> nn.Sequential:
    layers = []
    for c in channels:
        layers.append(_block(c_in, c, kernel))
        c_in = c
    return nn.Sequential(*layers)


class DeepMedic(nn.Module):
    """(N, C, *(o + 2 margin)) -> logits (N, K, *o); o a multiple of `multiple` per axis."""

    def __init__(self, config: DeepMedicConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or DeepMedicConfig()
        if any(k % 2 == 0 for k in cfg.kernel):
            raise ValueError(f"kernel sizes must be odd, got {cfg.kernel}")
        radius = [(k - 1) // 2 for k in cfg.kernel]
        self.normal_margin: Triple = tuple(len(cfg.normal_channels) * r for r in radius)  # type: ignore[assignment]
        self.context_margins: list[Triple] = [
            tuple(f * len(cfg.context_channels) * r for f, r in zip(fac, radius, strict=True))  # type: ignore[misc]
            for fac in cfg.factors
        ]
        self.margin: Triple = tuple(
            max([self.normal_margin[a], *(m[a] for m in self.context_margins)]) for a in range(3)
        )  # type: ignore[assignment]
        self.multiple: Triple = tuple(math.lcm(1, *(fac[a] for fac in cfg.factors)) for a in range(3))  # type: ignore[assignment]
        self.normal = _pathway(cfg.in_channels, cfg.normal_channels, cfg.kernel)
        self.context = nn.ModuleList(
            _pathway(cfg.in_channels, cfg.context_channels, cfg.kernel) for _ in cfg.factors
        )
        c = cfg.normal_channels[-1] + len(cfg.factors) * cfg.context_channels[-1]
        fc: list[nn.Module] = [nn.Dropout3d(cfg.dropout)]
        for width in cfg.fc_channels:
            fc += [nn.Conv3d(c, width, 1, bias=False), nn.BatchNorm3d(width), nn.ReLU(inplace=True)]
            c = width
        self.fc = nn.Sequential(*fc)
        self.head = nn.Conv3d(c, cfg.n_classes, 1)

    @property
    def receptive_field(self) -> Triple:
        """Voxels per axis that can influence one output voxel (a context cell spans `factor` voxels)."""
        radius = [(k - 1) // 2 for k in self.config.kernel]
        n_c = len(self.config.context_channels)
        return tuple(
            max(
                [
                    2 * self.normal_margin[a] + 1,
                    *(f[a] * (2 * n_c * radius[a] + 1) for f in self.config.factors),
                ]
            )
            for a in range(3)
        )  # type: ignore[return-value]

    def input_size(self, output_size: Sequence[int]) -> Triple:
        """Input spatial size for an output region of `output_size` (multiples of `multiple`)."""
        for o, m in zip(output_size, self.multiple, strict=True):
            if o <= 0 or o % m:
                raise ValueError(
                    f"output size {tuple(output_size)} must be positive multiples of {self.multiple}"
                )
        return tuple(o + 2 * m for o, m in zip(output_size, self.margin, strict=True))  # type: ignore[return-value]

    def output_size(self, input_size: Sequence[int]) -> Triple:
        return tuple(i - 2 * m for i, m in zip(input_size, self.margin, strict=True))  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected (N, C, D, H, W), got {tuple(x.shape)}")
        out_size = self.output_size(x.shape[2:])
        self.input_size(out_size)  # validates
        branches = [
            self.normal(_crop(x, [m - n for m, n in zip(self.margin, self.normal_margin, strict=True)]))
        ]
        for path, fac, cm in zip(self.context, self.config.factors, self.context_margins, strict=True):
            region = _crop(x, [m - c for m, c in zip(self.margin, cm, strict=True)])
            low = path(F.avg_pool3d(region, fac, stride=fac) if any(f > 1 for f in fac) else region)
            for axis, f in enumerate(fac):
                if f > 1:
                    low = low.repeat_interleave(f, dim=2 + axis)
            branches.append(low)
        return self.head(self.fc(torch.cat(branches, dim=1)))


def _crop(x: torch.Tensor, border: Sequence[int]) -> torch.Tensor:
    d, h, w = border
    return x[..., d : x.shape[2] - d, h : x.shape[3] - h, w : x.shape[4] - w]


def normalise_volume(volume: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(D, H, W) -> float32 tensor with zero mean and unit standard deviation over the volume."""
    v = torch.as_tensor(np.asarray(volume, dtype=np.float32))
    return (v - v.mean()) / v.std(unbiased=False).clamp_min(1e-6)


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def padded_input(
    model: DeepMedic,
    volume: np.ndarray | torch.Tensor,
    tile: Sequence[int] | None = None,
    normalise: bool = True,
) -> tuple[torch.Tensor, Triple, Triple]:
    """The network input for one volume (D, H, W): (1, 1, *(extent + 2 margin)) with the (normalised)
    volume at the origin of an output extent rounded up to `tile` (None: to `model.multiple`, one pass)
    and zeros elsewhere; also the volume's size and the tile step."""
    v = normalise_volume(volume) if normalise else torch.as_tensor(np.asarray(volume, dtype=np.float32))
    size: Triple = tuple(int(s) for s in v.shape)  # type: ignore[assignment]
    step: Triple = (
        tuple(_round_up(s, m) for s, m in zip(size, model.multiple, strict=True))  # type: ignore[assignment]
        if tile is None
        else tuple(tile)
    )
    model.input_size(step)  # validates the tile
    extent = [_round_up(s, t) for s, t in zip(size, step, strict=True)]
    mg = model.margin
    pad = (
        mg[2],
        mg[2] + extent[2] - size[2],
        mg[1],
        mg[1] + extent[1] - size[1],
        mg[0],
        mg[0] + extent[0] - size[0],
    )
    return F.pad(v[None, None], pad), size, step


@torch.inference_mode()
def volume_probabilities(
    model: DeepMedic,
    volume: np.ndarray | torch.Tensor,
    tile: Sequence[int] | None = None,
    device: torch.device | None = None,
    normalise: bool = True,
) -> np.ndarray:
    """Softmax probabilities (K, D, H, W) float32 for one volume (D, H, W), in eval mode.

    `tile`: the output size of each segment (multiples of `model.multiple`); None runs the whole volume in
    one pass. Outside the volume the (normalised) input is 0. Tiles start on a grid of `tile` from the
    volume's origin, so every context cell is pooled from the same voxels as in the whole pass.
    """
    dev = device or torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        padded, size, step = padded_input(model, volume, tile, normalise)
        padded = padded.to(dev)
        extent = model.output_size(padded.shape[2:])
        mg = model.margin
        probs = torch.empty((model.config.n_classes, *extent), dtype=torch.float32)
        for z in range(0, extent[0], step[0]):
            for y in range(0, extent[1], step[1]):
                for x in range(0, extent[2], step[2]):
                    seg = padded[
                        ...,
                        z : z + step[0] + 2 * mg[0],
                        y : y + step[1] + 2 * mg[1],
                        x : x + step[2] + 2 * mg[2],
                    ]
                    out = torch.softmax(model(seg).float(), dim=1)[0].cpu()
                    probs[:, z : z + step[0], y : y + step[1], x : x + step[2]] = out
        return probs[:, : size[0], : size[1], : size[2]].numpy()
    finally:
        model.train(was_training)


def segment_volume(
    model: DeepMedic,
    volume: np.ndarray,
    tile: Sequence[int] | None = None,
    device: torch.device | None = None,
) -> np.ndarray:
    """(D, H, W) -> (D, H, W) uint8 labels."""
    return volume_probabilities(model, volume, tile, device).argmax(axis=0).astype(np.uint8)


def slice_items(probs: np.ndarray) -> np.ndarray:
    """Per-voxel probabilities (K, D, H, W) -> per-slice items (D, K, H, W) for the active-learning scores
    in ml.active_learning.scoring (then `aggregate_by_case` for case scores)."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(probs), 0, 1))


class VolumePatchDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Training segments for a DeepMedic. volumes: (N, D, H, W) float; labels: (N, D, H, W) integer.

    Item i: a segment of volume i % N with input (1, *(o + 2 margin)) and labels (*o), o = `output_size`;
    the output region's centre is a foreground voxel with probability `foreground_fraction` (DeepMedic's
    class-balanced sampling), else any voxel. Volumes are normalised per volume and zero-padded so any
    voxel can be a centre. `length`: items per epoch. Random from torch's global generator.
    """

    def __init__(
        self,
        volumes: np.ndarray,
        labels: np.ndarray,
        model: DeepMedic,
        output_size: Sequence[int],
        *,
        length: int | None = None,
        foreground_fraction: float = 0.5,
    ) -> None:
        if volumes.ndim != 4 or volumes.shape != labels.shape:
            raise ValueError(
                f"need volumes and labels of one (N, D, H, W) shape, got {volumes.shape}, {labels.shape}"
            )
        self.out = tuple(int(o) for o in output_size)
        self.inp = model.input_size(self.out)
        self.margin = model.margin
        half = [o // 2 for o in self.out]
        self.before = [m + h for m, h in zip(self.margin, half, strict=True)]
        self.after = [m + o - h for m, o, h in zip(self.margin, self.out, half, strict=True)]
        pad_v = [(0, 0), *zip(self.before, self.after, strict=True)]
        norm = np.stack([normalise_volume(v).numpy() for v in volumes])
        self.volumes = np.pad(norm, pad_v)
        self.labels = np.pad(np.asarray(labels, dtype=np.int64), pad_v)
        self.shape = volumes.shape[1:]
        self.foreground = [np.argwhere(lab > 0) for lab in labels]
        self.length = length or len(volumes)
        self.n = len(volumes)
        self.foreground_fraction = foreground_fraction

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = index % self.n
        fg = self.foreground[i]
        if len(fg) and float(torch.rand(())) < self.foreground_fraction:
            centre = fg[int(torch.randint(len(fg), ()))]
        else:
            centre = np.array([int(torch.randint(s, ())) for s in self.shape])
        # In padded coordinates the output region starts at centre - half + before, i.e. centre + margin.
        o0 = [int(c) + m for c, m in zip(centre, self.margin, strict=True)]
        lab = self.labels[
            i, o0[0] : o0[0] + self.out[0], o0[1] : o0[1] + self.out[1], o0[2] : o0[2] + self.out[2]
        ]
        i0 = [a - m for a, m in zip(o0, self.margin, strict=True)]
        img = self.volumes[
            i, i0[0] : i0[0] + self.inp[0], i0[1] : i0[1] + self.inp[1], i0[2] : i0[2] + self.inp[2]
        ]
        return torch.from_numpy(np.ascontiguousarray(img))[None], torch.from_numpy(np.ascontiguousarray(lab))


def soft_dice_loss_nd(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean foreground soft Dice, batch pooled. logits: (N, K, *S); target: (N, *S) long."""
    k = logits.shape[1]
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target, k).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, logits.ndim))
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    return 1.0 - ((2 * inter + 1.0) / (denom + 1.0))[1:].mean()


class VolumeSegmentationLoss:
    """Cross-entropy plus `dice_weight` x soft Dice, for (N, K, D, H, W) logits."""

    def __init__(self, dice_weight: float = 1.0) -> None:
        self.dice_weight = dice_weight

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, target)
        return loss + self.dice_weight * soft_dice_loss_nd(logits, target) if self.dice_weight else loss


def train_deepmedic(
    volumes: np.ndarray,
    labels: np.ndarray,
    *,
    config: DeepMedicConfig | None = None,
    output_size: Sequence[int] = (3, 9, 9),
    val_volumes: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    segments_per_epoch: int | None = None,
    max_seconds: float | None = 300.0,
    max_steps: int | None = None,
    max_epochs: int = 1000,
    batch_size: int = 8,
    lr: float = 2e-3,
    dice_weight: float = 1.0,
    eval_every: int | None = 100,
    patience: int | None = 8,
    device: torch.device | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    checkpoint_every: int | None = None,
    lr_schedule: Literal["constant", "cosine"] = "cosine",
    seed: int = 0,
    resume_from: Path | None = None,
) -> tuple[DeepMedic, History]:
    """Train on segments of volumes (N, D, H, W) with labels (N, D, H, W), with the shared Trainer.
    Validation (when val_* are given) is on segments of the validation volumes, early-stopping on Dice.
    `resume_from`: a checkpoint of an interrupted run with the same data and seed to continue from."""
    seed_everything(seed)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    model = DeepMedic(config)
    volumes, labels = np.asarray(volumes, dtype=np.float32), np.asarray(labels)
    train_ds = VolumePatchDataset(
        volumes, labels, model, output_size, length=segments_per_epoch or 4 * len(volumes)
    )
    loader = make_loader(train_ds, batch_size, seed=seed, drop_last=len(train_ds) > batch_size)
    val_loader: DataLoader[tuple[torch.Tensor, torch.Tensor]] | None = None
    if val_volumes is not None and val_labels is not None:
        val_ds = VolumePatchDataset(
            np.asarray(val_volumes, dtype=np.float32), np.asarray(val_labels), model, output_size,
            length=4 * len(val_volumes),
        )  # fmt: skip
        # Fixed validation segments: draw them once.
        g = torch.random.get_rng_state()
        torch.manual_seed(seed + 1)
        fixed = [val_ds[i] for i in range(len(val_ds))]
        torch.random.set_rng_state(g)
        val_loader = DataLoader(fixed, batch_size=2 * batch_size)  # type: ignore[arg-type]
    cfg = TrainerConfig(
        max_epochs=max_epochs, max_steps=max_steps, max_seconds=max_seconds, eval_every=eval_every,
        monitor="dice_mean" if val_loader is not None else "val_loss", mode="max" if val_loader is not None else "min",
        patience=patience, checkpoint_every=checkpoint_every, checkpoint_path=checkpoint_path,
        lr_schedule=lr_schedule, channels_last=False,
    )  # fmt: skip
    card = ModelCard(
        config={"arch": "deepmedic", **model.config.to_dict(), "output_size": list(output_size), "lr": lr},
        training_data_hash=training_data_hash(arrays=[volumes, labels]),
        metrics={},
    )
    trainer = Trainer(
        model, VolumeSegmentationLoss(dice_weight), torch.optim.Adam(model.parameters(), lr=lr), loader,
        val_loader, dice_metrics, device=dev, config=cfg, progress=progress, should_stop=should_stop,
        model_card=card,
    )  # fmt: skip
    if resume_from is not None:
        trainer.resume(resume_from)
    history = trainer.fit()
    assert isinstance(trainer.model, DeepMedic)
    return trainer.model, history


def deepmedic_from_config(config: dict[str, object]) -> DeepMedic:
    """Rebuild an untrained DeepMedic from a model card's config (JSON lists back to tuples)."""
    names = DeepMedicConfig.__dataclass_fields__

    def tup(v: object) -> object:
        return tuple(tup(i) for i in v) if isinstance(v, list) else v

    fields = {k: tup(v) for k, v in config.items() if k in names}
    return DeepMedic(DeepMedicConfig(**fields))  # type: ignore[arg-type]
