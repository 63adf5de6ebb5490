"""Build ml/ models from the JSON configs kept on ModelVersion rows, and load their weights."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Literal

import torch
from torch import nn

from atrium.learning.models import ModelFamily, ModelVersion
from atrium.learning.registry import load_weights


def _as_tuples(data: dict[str, Any], cls: type) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}


def segmenter_config(config: dict[str, Any]) -> tuple[Literal["fcn", "unet"], Any]:
    """(arch, FCNConfig or UNetConfig) of a 2D segmenter's version config."""
    from ml.segmentation.fcn import FCNConfig
    from ml.segmentation.unet import UNetConfig

    arch = config.get("arch", "fcn")
    if arch == "fcn":
        return "fcn", FCNConfig(**_as_tuples(config.get("model", {}), FCNConfig))
    if arch == "unet":
        return "unet", UNetConfig(**_as_tuples(config.get("model", {}), UNetConfig))
    raise ValueError(f"not a 2D segmenter: arch {arch!r}")


def build_model(family: str, config: dict[str, Any]) -> nn.Module:
    if family == ModelFamily.SEGMENTATION:
        from ml.segmentation.train import build_segmenter

        arch = config.get("arch", "fcn")
        if arch == "deepmedic":  # the 3D segmenter of short-axis stacks (atrium.learning.volume_segmenter)
            from ml.segmentation.deepmedic import deepmedic_from_config

            return deepmedic_from_config(config.get("model", {}))
        segmenter = build_segmenter(*segmenter_config(config))
        restoration = config.get("restoration")
        if restoration:  # an adapted version: normaliser, segmenter, shape prior (adaptation.py)
            from ml.domain_adaptation.restoration import restored_segmenter_skeleton

            return restored_segmenter_skeleton(segmenter, **restoration)
        return segmenter
    if family == ModelFamily.CLASSIFICATION:
        from ml.classification.sononet import SonoNet, SonoNetConfig

        return SonoNet(SonoNetConfig(**_as_tuples(config.get("model", {}), SonoNetConfig)))
    if family == ModelFamily.RECONSTRUCTION:
        from ml.reconstruction.cascade import DeepCascade

        return DeepCascade(**config.get("model", {}))
    raise ValueError(f"unknown model family {family!r}")


def load_model(version: ModelVersion, device: torch.device | None = None) -> nn.Module:
    model = build_model(version.family, version.config)
    model.load_state_dict(load_weights(version))
    model.eval()
    return model.to(device or torch.device("cpu"))
