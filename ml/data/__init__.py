"""Synthetic phantoms (cardiac cine MR, fetal ultrasound), vendor profiles, datasets and transforms."""
