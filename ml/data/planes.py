"""The 14 fetal-ultrasound classes: 13 standard planes plus background, in the SonoNet order."""

from __future__ import annotations

PLANES: tuple[str, ...] = (
    "3VV",
    "4CH",
    "Abdominal",
    "Background",
    "Brain (Cb.)",
    "Brain (Tv.)",
    "Femur",
    "Kidneys",
    "Lips",
    "LVOT",
    "Profile",
    "RVOT",
    "Spine (cor.)",
    "Spine (sag.)",
)
BACKGROUND_INDEX: int = PLANES.index("Background")
N_PLANES: int = len(PLANES)


def plane_index(name: str) -> int:
    """Class index of a plane name (exact spelling as in PLANES)."""
    try:
        return PLANES.index(name)
    except ValueError:
        raise ValueError(f"unknown plane {name!r}; expected one of {PLANES}") from None
