"""Contours and plane labels, each with immutable versions."""
