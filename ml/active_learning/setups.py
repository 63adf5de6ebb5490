"""The small, fast learners the simulation runs for each model family, shared by the platform's
`simulate` job and bench/active_learning.py so that both measure the same thing.

Segmentation: a narrow FCN (8 base channels) on (N, H, W) images with H, W multiples of 16;
classification: a narrow SonoNet (8 base features) on (N, H, W) frames already resized to its input size.
"""

from __future__ import annotations

from ml.active_learning.learners import ClassificationLearner, Learner, LearnerConfig, SegmentationLearner
from ml.classification.sononet import SonoNet, SonoNetConfig
from ml.segmentation.fcn import FCN, FCNConfig

FAMILIES = ("segmentation", "classification")
METRICS = {"segmentation": "dice", "classification": "f1"}
CLASSIFIER_INPUT = (64, 80)
# Strategies that read MC-dropout samples or flipped predictions: the learner must produce them.
MC_STRATEGIES = frozenset({"bald", "mc_variance"})
TTA_STRATEGIES = frozenset({"tta_variance"})


def segmentation_learner(
    config: LearnerConfig,
    *,
    n_classes: int = 4,
    dropout: float = 0.0,
    width: int = 8,
    device: str = "cpu",
) -> Learner:
    """The FCN at `width` base channels. Width 8, not 4: at 4 the model is capacity-bound (on the bench's
    pool, mean Dice 0.70 / 0.79 / 0.83 from 8 / 24 / 100 cases, against 0.73 / 0.79 / 0.87 at 8), so its
    learning curve flattens early whatever the labels, and label efficiency cannot show."""
    fcn = FCNConfig(
        n_classes=n_classes, width=width, convs_per_scale=(1, 1, 1, 1, 1), up_channels=width,
        fuse_channels=2 * width, n_fuse=1, dropout=dropout,
    )  # fmt: skip
    return SegmentationLearner(lambda: FCN(fcn), "fuse", config, device=device, n_classes=n_classes)


def classification_learner(
    config: LearnerConfig,
    *,
    n_classes: int,
    dropout: float = 0.3,
    input_size: tuple[int, int] = CLASSIFIER_INPUT,
    features: int = 8,
    device: str = "cpu",
) -> Learner:
    net = SonoNetConfig(
        features=features,
        n_classes=n_classes,
        adaptation_multiplier=2,
        dropout=dropout,
        input_size=input_size,
    )
    return ClassificationLearner(lambda: SonoNet(net), "features", config, n_classes=n_classes, device=device)


def learner_config_for(strategies: list[str] | tuple[str, ...], **kwargs: object) -> LearnerConfig:
    """A LearnerConfig that computes what the given strategies read (MC samples, flips) and no more."""
    wanted = set(strategies)
    config = LearnerConfig(**kwargs)  # type: ignore[arg-type]
    if wanted & MC_STRATEGIES and not config.mc_samples:
        config.mc_samples = 4
    if wanted & TTA_STRATEGIES:
        config.tta = True
    return config
