"""Cardiac short-axis segmentation: the UK Biobank FCN and a U-Net (fcn, unet), masks <-> contours
(contours), clinical measures (measures), inference on a cine (infer) and training (train)."""
