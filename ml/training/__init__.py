"""The shared training machinery: devices and seeding (devices), the Trainer (trainer), checkpoints and
model cards (checkpoints), inference helpers (inference), MC-dropout and TTA uncertainty (uncertainty)."""
