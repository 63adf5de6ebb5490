"""Overlap, surface-distance, image-quality and agreement metrics (pure NumPy/SciPy)."""
