import numpy as np

from ml.classification.sononet import SonoNet, SonoNetConfig
from ml.data.ultrasound_clip import make_plane_image
from ml.domain_adaptation.classification import adapt_classifier


def test_classifier_adaptation_runs_on_unlabelled_distinct_vendor_frames_and_leaves_the_parent_alone():
    rng = np.random.default_rng(0)
    src = np.stack([make_plane_image(k % 3, rng, height=64, width=80, vendor="siemens") for k in range(6)])
    tgt = np.stack(
        [
            make_plane_image(k % 3, rng, height=64, width=80, vendor="ge", appearance="distinct")
            for k in range(6)
        ]
    )
    model = SonoNet(SonoNetConfig(features=4, adaptation_multiplier=2, n_classes=14, input_size=(32, 48)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = adapt_classifier(
        model,
        src,
        np.arange(6) % 3,
        tgt,
        max_steps=4,
        batch_size=3,
        ramp_steps=2,
        eval_every=None,
        device="cpu",
    )
    assert result.history.step == 4 and len(result.domain.accuracy) == 4
    assert result.config.taps == ("features.1", "features.3", "adaptation.3")
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
    changed = [
        k
        for k, v in result.model.state_dict().items()
        if v.dtype.is_floating_point and not (before[k] == v).all()
    ]
    assert changed
