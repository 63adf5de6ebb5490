"""Frames as images: window/level to 8 bits and PNG/WebP encoding (pure NumPy + Pillow)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, features

IMAGE_FORMATS = {"png": "image/png", "webp": "image/webp"}


def webp_supported() -> bool:
    return bool(features.check("webp"))


def apply_window(frame: np.ndarray, center: float, width: float) -> np.ndarray:
    """(H, W) any numeric -> (H, W) uint8: center - width/2 maps to 0, center + width/2 to 255."""
    width = max(float(width), 1e-6)
    low = float(center) - width / 2.0
    scaled = (frame.astype(np.float32) - np.float32(low)) * np.float32(255.0 / width)
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def encode_image(pixels: np.ndarray, fmt: str) -> bytes:
    """(H, W) or (H, W, 3) uint8 -> PNG or WebP bytes (lossless WebP, so values survive)."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=1)
    elif fmt == "webp":
        image.save(buffer, format="WEBP", lossless=True, quality=50, method=0)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buffer.getvalue()
