import numpy as np
import pytest

from ml.data.planes import BACKGROUND_INDEX, PLANES
from ml.data.ultrasound_clip import (
    Pose,
    fan_mask,
    make_plane_image,
    make_plane_sample,
    make_ultrasound_clip,
    new_speckle,
    render_plane,
)

H, W = 112, 144


@pytest.fixture(scope="module")
def clip():
    return make_ultrasound_clip(4, n_frames=40, height=H, width=W)


def test_every_plane_renders_inside_the_fan_with_a_box_around_its_anatomy():
    rng = np.random.default_rng(0)
    fan = fan_mask(224, 288)
    for plane in range(len(PLANES)):
        img, (y0, x0, y1, x1) = make_plane_sample(plane, rng)
        assert img.shape == (224, 288) and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert np.all(img[~fan] == 0.0) and img[fan].mean() > 0.03
        if plane == BACKGROUND_INDEX:
            assert (y0, x0, y1, x1) == (0, 0, 0, 0)
        else:
            assert 0 <= y0 < y1 <= 224 and 0 <= x0 < x1 <= 288
            assert 30 <= y1 - y0 <= 224 and 30 <= x1 - x0 <= 288, PLANES[plane]


def test_same_generator_state_gives_identical_images():
    a = make_plane_image(5, np.random.default_rng(3), height=H, width=W)
    b = make_plane_image(5, np.random.default_rng(3), height=H, width=W)
    c = make_plane_image(5, np.random.default_rng(4), height=H, width=W)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_planes_differ_from_each_other_under_the_same_pose_and_speckle():
    pose = Pose(cy=0.55 * 224, cx=143.5, scale=0.28 * 224, angle=0.0, mirror=False)
    speckle = new_speckle(np.random.default_rng(1), (224, 288))
    images, boxes = [], []
    for plane in range(len(PLANES)):
        img, box = render_plane(plane, 99, pose, speckle, np.random.default_rng(2))
        images.append(img)
        boxes.append(box)
    for i in range(len(PLANES)):
        for j in range(i + 1, len(PLANES)):
            # Compare inside the union of the two anatomy boxes (the background scene is shared).
            y0 = min(b[0] for b in (boxes[i], boxes[j]) if b[2] > 0)
            x0 = min(b[1] for b in (boxes[i], boxes[j]) if b[2] > 0)
            y1, x1 = max(boxes[i][2], boxes[j][2]), max(boxes[i][3], boxes[j][3])
            diff = np.abs(images[i][y0:y1, x0:x1] - images[j][y0:y1, x0:x1]).mean()
            assert diff > 0.02, (PLANES[i], PLANES[j], diff)


def test_the_same_scene_seed_keeps_the_anatomy_and_a_small_move_changes_little():
    pose = Pose(cy=0.55 * H, cx=W / 2, scale=0.28 * H, angle=0.1, mirror=True)
    speckle = new_speckle(np.random.default_rng(1), (H, W))
    a, box_a = render_plane(1, 5, pose, speckle, np.random.default_rng(0), height=H, width=W)
    b, box_b = render_plane(
        1, 5, pose.moved(1.0, 1.0, 0.0, 0.0), speckle, np.random.default_rng(0), height=H, width=W
    )
    other, _ = render_plane(1, 6, pose, speckle, np.random.default_rng(0), height=H, width=W)
    assert np.abs(np.array(box_a) - np.array(box_b)).max() <= 2
    assert np.abs(a - b).mean() < np.abs(a - other).mean() + 0.05


def test_rejects_unknown_plane_index():
    with pytest.raises(ValueError):
        make_plane_image(14, np.random.default_rng(0))


def test_clip_has_frames_and_labels_of_matching_length_and_types(clip):
    assert clip.frames.shape == (40, H, W) and clip.frames.dtype == np.uint8
    assert clip.labels.shape == (40,) and clip.labels.dtype == np.int64
    assert not clip.rgb and clip.vendor == "ge"
    assert clip.frame_time_ms == pytest.approx(1000 / 30)
    assert clip.pixel_spacing_mm[0] == pytest.approx(0.25)
    assert np.all((clip.labels >= 0) & (clip.labels < len(PLANES)))


def test_clip_dwells_on_several_planes_with_background_between(clip):
    labels = clip.labels
    assert labels[0] == BACKGROUND_INDEX and labels[-1] == BACKGROUND_INDEX
    runs = [int(labels[0])]
    for lab in labels[1:]:
        if lab != runs[-1]:
            runs.append(int(lab))
    standard = [r for r in runs if r != BACKGROUND_INDEX]
    assert len(standard) >= 2 and len(set(standard)) == len(standard)
    assert all(r == BACKGROUND_INDEX for r in runs[::2])


def test_clip_labels_change_where_the_picture_jumps(clip):
    f = clip.frames.astype(np.float32)
    step = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2))
    boundary = clip.labels[1:] != clip.labels[:-1]
    assert boundary.any()
    assert step[boundary].min() > step[~boundary].max()


def test_clip_is_deterministic_from_its_seed():
    a = make_ultrasound_clip(9, n_frames=10, height=64, width=80)
    b = make_ultrasound_clip(9, n_frames=10, height=64, width=80)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_rgb_clip_has_three_channels_with_a_warm_tint():
    c = make_ultrasound_clip(2, n_frames=8, height=64, width=80, rgb=True, vendor="philips")
    assert c.rgb and c.frames.shape == (8, 64, 80, 3) and c.frames.dtype == np.uint8
    means = c.frames.reshape(-1, 3).mean(axis=0)
    assert means[0] > means[1] > means[2]
    assert c.vendor == "philips"
