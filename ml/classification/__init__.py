"""Fetal-ultrasound standard-plane classification: SonoNet-16/32/64 (sononet), weakly supervised
localisation (localisation), per-frame inference on a clip (infer) and training (train)."""
