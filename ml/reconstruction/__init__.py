"""MR reconstruction from undersampled Cartesian k-space.

fft (centred orthonormal transforms), masks (variable-density line masks), simulate (undersampling),
data_consistency (noiseless and noisy DC), cascade (DnCn in 2D and 2D+t), baselines (zero-filled, CS-TV),
train (training loop and per-volume evaluation).
"""
