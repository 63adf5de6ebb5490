"""Unsupervised domain adaptation (Kamnitsas et al., IPMI 2017): a gradient reversal layer (gradient_reversal),
features tapped from several layers of a network (taps), a discriminator over them (discriminator) and an
adversarial training loop on the shared Trainer for the segmenter and the plane classifier (adversarial)."""
