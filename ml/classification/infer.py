"""Per-frame standard-plane classification of an ultrasound clip, with optional localisation heatmaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.classification.localisation import Localisation, Method, localise
from ml.classification.sononet import INPUT_SIZE
from ml.training.inference import normalise_per_image, prepare_for_inference


@dataclass(frozen=True)
class ClipPrediction:
    """probs: (F, K) float32; predicted, confidence: (F,); localisations: one per frame at the input
    frame size when asked for, else None."""

    probs: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    localisations: list[Localisation] | None = None


def preprocess_frames(frames: np.ndarray | torch.Tensor, size: tuple[int, int] = INPUT_SIZE) -> torch.Tensor:
    """(F, H, W) or (F, H, W, 3) uint8/float frames -> (F, 1, h, w) float32, resized to `size`
    (bilinear, antialiased when shrinking) and normalised per image. RGB becomes luminance."""
    x = torch.as_tensor(np.asarray(frames))
    if x.ndim == 4 and x.shape[-1] == 3:
        x = (x.float() * torch.tensor([0.299, 0.587, 0.114])).sum(dim=-1)
    if x.ndim != 3:
        raise ValueError(f"frames must be (F, H, W) or (F, H, W, 3), got {tuple(x.shape)}")
    x = x.float().unsqueeze(1)
    if tuple(x.shape[-2:]) != tuple(size):
        shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return normalise_per_image(x)


@torch.inference_mode()
def predict_probs(
    model: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 32
) -> np.ndarray:
    """x: (F, 1, h, w) preprocessed -> (F, K) softmax probabilities. `model` should be an inference copy."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        out.append(torch.softmax(model(xb).float(), dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def _resize_localisation(loc: Localisation, frame_hw: tuple[int, int]) -> Localisation:
    h, w = loc.heatmap.shape
    fh, fw = frame_hw
    if (h, w) == (fh, fw):
        return loc
    heat = F.interpolate(
        torch.from_numpy(loc.heatmap)[None, None], size=frame_hw, mode="bilinear", align_corners=False
    )
    y0, x0, y1, x1 = loc.bbox
    sy, sx = fh / h, fw / w
    bbox = (int(np.floor(y0 * sy)), int(np.floor(x0 * sx)), int(np.ceil(y1 * sy)), int(np.ceil(x1 * sx)))
    return Localisation(heat[0, 0].clamp(0, 1).numpy(), bbox, loc.method, loc.class_index)


def classify_clip(
    model: nn.Module,
    frames: np.ndarray | torch.Tensor,
    device: torch.device,
    *,
    batch_size: int = 32,
    heatmaps: bool = False,
    heatmap_method: Method = "category_map",
) -> ClipPrediction:
    """Classify every frame (F, H, W) of a clip (resized to the model config's input_size); with `heatmaps`, localise each frame's predicted class
    and return the heatmap and box at the frame's own size."""
    size = tuple(getattr(getattr(model, "config", None), "input_size", INPUT_SIZE))
    x = preprocess_frames(frames, (int(size[0]), int(size[1])))
    net = prepare_for_inference(model, device)
    probs = predict_probs(net, x, device, batch_size)
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    locs = None
    if heatmaps:
        frame_hw = (int(np.asarray(frames).shape[1]), int(np.asarray(frames).shape[2]))
        locs = []
        for i in range(len(x)):
            loc = localise(net, x[i : i + 1].to(device), heatmap_method, class_index=int(predicted[i]))  # type: ignore[arg-type]
            locs.append(_resize_localisation(loc, frame_hw))
    return ClipPrediction(
        probs.astype(np.float32), predicted.astype(np.int64), confidence.astype(np.float32), locs
    )
