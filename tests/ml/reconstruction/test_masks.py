import numpy as np
import pytest

from ml.reconstruction.masks import achieved_acceleration, cartesian_mask, centre_line_indices


@pytest.mark.parametrize("acceleration", [4, 6, 8, 10, 12])
@pytest.mark.parametrize("shape", [(128, 128), (96, 80), (12, 96, 96), (30, 192, 160)])
def test_mask_acceleration_is_within_five_percent_of_the_request(
    acceleration: float, shape: tuple[int, ...]
) -> None:
    mask = cartesian_mask(shape, acceleration, centre_lines=8, seed=3)
    assert mask.shape == shape and mask.dtype == np.float32
    assert abs(achieved_acceleration(mask) - acceleration) / acceleration <= 0.05


def test_mask_samples_whole_phase_encode_lines_and_the_centre_fully() -> None:
    mask = cartesian_mask((5, 64, 48), 6.0, centre_lines=10, seed=0)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert np.all(mask.min(axis=-1) == mask.max(axis=-1))  # each row all sampled or not at all
    centre = centre_line_indices(64, 10)
    assert list(centre) == list(range(27, 37))
    assert np.all(mask[:, centre, :] == 1)


def test_cine_masks_differ_between_frames() -> None:
    mask = cartesian_mask((8, 96, 96), 8.0, centre_lines=8, seed=1)
    rows = mask[..., 0]
    assert len({r.tobytes() for r in rows}) == 8


def test_mask_is_reproducible_from_its_seed_and_changes_with_it() -> None:
    a = cartesian_mask((96, 96), 6.0, 8, seed=5)
    assert np.array_equal(a, cartesian_mask((96, 96), 6.0, 8, seed=5))
    assert not np.array_equal(a, cartesian_mask((96, 96), 6.0, 8, seed=6))


def test_mask_density_falls_off_away_from_the_centre() -> None:
    mask = cartesian_mask((2000, 128, 4), 6.0, centre_lines=8, seed=2)
    per_line = mask[..., 0].mean(axis=0)
    near = np.r_[per_line[44:60], per_line[68:84]].mean()
    far = np.r_[per_line[:16], per_line[-16:]].mean()
    assert near > 2 * far > 0


def test_mask_rejects_more_centre_lines_than_the_acceleration_allows() -> None:
    with pytest.raises(ValueError):
        cartesian_mask((64, 64), 12.0, centre_lines=8, seed=0)
