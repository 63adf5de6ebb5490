"""Short-axis volumes from 2D cardiac examples, for the 3D (DeepMedic) segmenter.

Each example is one slice at one phase read by one reader; a volume is the consecutive read slices of
one case, reader and phase stacked in slice order, (D, H, W). A gap in the read slices starts a new
volume, so no slice is invented and neighbours in a volume are neighbours in the stack. NumPy only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from atrium.learning.examples import Examples


@dataclass(frozen=True)
class Volume:
    """images: (D, H, W) float32 in [0, 1]; labels: (D, H, W) uint8; slices: the stack index of each."""

    images: np.ndarray
    labels: np.ndarray
    case_id: int
    phase: int
    slices: tuple[int, ...]

    @property
    def depth(self) -> int:
        return int(self.images.shape[0])


def group_volumes(examples: Examples) -> list[Volume]:
    """The examples' volumes, by case, reader and phase; every example lands in exactly one volume.
    Examples without slice/phase items (case ids alone) become one-slice volumes."""
    n = len(examples)
    case_ids = examples.case_ids or [0] * n
    items = examples.items or [(i, 0, 0) for i in range(n)]  # unique readers: one slice each
    groups: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
    for i, (case_id, (reader, slice_index, phase)) in enumerate(zip(case_ids, items, strict=True)):
        groups[(case_id, reader, phase)].append((slice_index, i))
    volumes = []
    for (case_id, _, phase), members in sorted(groups.items()):
        members.sort()
        runs: list[list[tuple[int, int]]] = [[members[0]]]
        for member in members[1:]:
            if member[0] == runs[-1][-1][0] + 1:
                runs[-1].append(member)
            else:
                runs.append([member])
        for run in runs:
            index = [i for _, i in run]
            volumes.append(
                Volume(
                    examples.images[index],
                    examples.labels[index],
                    case_id,
                    phase,
                    tuple(s for s, _ in run),
                )
            )
    return volumes


def training_arrays(volumes: list[Volume]) -> tuple[np.ndarray, np.ndarray]:
    """(N, d, H, W) images and labels for `ml.segmentation.deepmedic.train_deepmedic`: every window of
    d consecutive slices of every volume, d the shallowest volume's depth. Volumes of one depth (whole
    stacks, or the same slices read everywhere) come through unchanged; deeper ones give overlapping
    windows rather than padded or invented slices."""
    if not volumes:
        raise ValueError("no volumes to train on")
    depth = min(v.depth for v in volumes)
    images = [v.images[s : s + depth] for v in volumes for s in range(v.depth - depth + 1)]
    labels = [v.labels[s : s + depth] for v in volumes for s in range(v.depth - depth + 1)]
    return np.stack(images).astype(np.float32), np.stack(labels).astype(np.uint8)
