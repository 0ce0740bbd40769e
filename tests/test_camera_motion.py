"""flow/camera_motion: the seeded motion, the moved frame, its exact flow and
validity, clip flows and the sensor nuisance."""
import numpy as np
import pytest
import torch

from mmseg_temporal.flow.camera_motion import (
    CameraMotion,
    apply_sensor_nuisance,
    clip_flows,
    motion_flow,
    move_frame,
    random_sensor_nuisance,
    sample_camera_motion,
)
from mmseg_temporal.flow.ops import flow_warp


def smooth_image(h=60, w=80):
    """A smooth (band-limited) RGB image, float (1, 3, H, W): bilinear
    resampling errors on it are small."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 60 * np.sin(xx / 7) + 30 * np.cos(yy / 5),
                    100 + 50 * np.cos((xx + yy) / 9),
                    128 + 40 * np.sin(yy / 6)])
    return torch.from_numpy(img)[None].float()


def test_seeded_motion_is_reproducible_and_bounded():
    draws = [sample_camera_motion(np.random.default_rng([0, 7]), shift=3,
                                  rotation=0.5, zoom=0.02, shear=1)
             for _ in range(2)]
    assert draws[0] == draws[1]
    other = sample_camera_motion(np.random.default_rng([1, 7]), shift=3,
                                 rotation=0.5, zoom=0.02, shear=1)
    assert other != draws[0]
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = sample_camera_motion(rng, shift=3, rotation=0.5, zoom=0.02, shear=1)
        assert np.hypot(*m.shift) <= 3 and abs(m.rotation) <= 0.5
        assert abs(m.zoom) <= 0.02 and abs(m.shear) <= 1
    with pytest.raises(ValueError, match='shift must be >= 0'):
        sample_camera_motion(rng, shift=-1)


def test_integer_shift_moves_the_frame_exactly_and_marks_the_strip_invalid():
    img = smooth_image()
    moved = move_frame(img, CameraMotion(shift=(3, -2)).matrix((60, 80)))
    # moved(p + (3, -2)) = img(p)
    torch.testing.assert_close(moved.img[..., :-2, 3:], img[..., 2:, :-3],
                               atol=1e-3, rtol=0)
    assert torch.equal(moved.flow[0, 0], torch.full((60, 80), 3.0))
    assert torch.equal(moved.flow[0, 1], torch.full((60, 80), -2.0))
    want = torch.zeros(60, 80, dtype=torch.bool)
    want[2:, :-3] = True  # the pixels that stay in the frame
    assert torch.equal(moved.valid[0, 0], want)
    want_back = torch.zeros(60, 80, dtype=torch.bool)
    want_back[:-2, 3:] = True  # the moved frame's pixels with real content
    assert torch.equal(moved.back_valid[0, 0], want_back)


@pytest.mark.parametrize('seed', range(4))
def test_flow_warps_the_moved_frame_back_within_interpolation_error(seed):
    img = smooth_image()
    motion = sample_camera_motion(np.random.default_rng(seed), shift=6,
                                  rotation=1, zoom=0.03, shear=1)
    moved = move_frame(img, motion.matrix((60, 80)))
    back, _ = flow_warp(moved.img, moved.flow)
    err = (back - img).abs().amax(1)[0]
    valid = moved.valid[0, 0]
    assert 0.6 < valid.float().mean() < 1.0
    assert err[valid].max() < 1.5  # two bilinear resamplings of a smooth image
    # every valid pixel lands inside the moved frame, none outside is valid
    xs = torch.arange(80.0)[None] + moved.flow[0, 0]
    ys = torch.arange(60.0)[:, None] + moved.flow[0, 1]
    e = 1e-3  # flow_warp's tolerance at the edge is 1e-4 px
    inside = (xs >= -e) & (xs <= 79 + e) & (ys >= -e) & (ys <= 59 + e)
    assert not (valid & ~inside).any()


def test_label_moves_with_nearest_and_ignore_outside():
    label = torch.arange(4).repeat_interleave(20)[None].repeat(60, 1)[None, None]
    moved = move_frame(smooth_image(), CameraMotion(shift=(5, 0)).matrix((60, 80)),
                       label=label, ignore_index=255)
    assert moved.label.dtype == label.dtype
    assert (moved.label[..., :5] == 255).all()
    assert torch.equal(moved.label[..., 5:], label[..., :-5])


def test_motion_at_another_resolution_is_the_same_scene_motion():
    """A motion given at 120x160 applied at 60x80: a point maps to the same
    scene point (MMSeg's resize convention u = (x + 0.5) * s)."""
    motion = CameraMotion(shift=(4, 2), rotation=1, zoom=0.05, shear=2,
                          ref_size=(120, 160))
    big, small = motion.matrix((120, 160)), motion.matrix((60, 80))
    rng = np.random.default_rng(0)
    for x in rng.uniform(0, 100, (10, 2)):
        y_big = (big @ np.r_[x, 1])[:2]
        y_small = (small @ np.r_[(x + 0.5) / 2 - 0.5, 1])[:2]
        np.testing.assert_allclose(y_small, (y_big + 0.5) / 2 - 0.5, atol=1e-9)
    # the shift of a pure translation halves
    np.testing.assert_allclose(
        CameraMotion(shift=(4, 2), ref_size=(120, 160)).matrix((60, 80))[:2, 2],
        [2, 1])


def test_homography_flow_divides_by_the_third_row():
    h = np.array([[1, 0, 2], [0, 1, 0], [0.001, 0, 1]])
    flow = motion_flow(h, (4, 5), dtype=torch.float64)
    x, y = 3, 2
    d = 0.001 * x + 1
    assert flow[0, y, x].item() == pytest.approx((x + 2) / d - x)
    assert flow[1, y, x].item() == pytest.approx(y / d - y)


def test_clip_flows_chain_the_motions_of_the_frames():
    img = smooth_image()
    rng = np.random.default_rng(3)
    mats = [sample_camera_motion(rng, shift=5, rotation=1).matrix((60, 80)),
            np.eye(3),
            sample_camera_motion(rng, shift=5, rotation=1).matrix((60, 80))]
    frames = [move_frame(img, m).img for m in mats]
    flows, valid = clip_flows(mats, (60, 80))
    assert flows.shape == (2, 2, 60, 80) and valid.shape == (2, 1, 60, 80)
    for i in range(2):  # warping frame i+1 with flows[i] gives frame i
        back, _ = flow_warp(frames[i + 1], flows[i][None])
        err = (back - frames[i]).abs().amax(1)[0]
        assert err[valid[i, 0]].max() < 1.5
        assert valid[i].float().mean() < 1  # some pixels leave the frame
    # frame 0's pixels without real content (their source left the
    # labelled frame) are invalid
    real0 = move_frame(img, mats[0]).back_valid[0, 0]
    assert not (valid[0, 0] & ~real0).any()


def test_sensor_nuisance_is_seeded_and_checks_its_options():
    img = np.full((16, 16, 3), 100.0)
    a = random_sensor_nuisance(img, np.random.default_rng(0), noise_std=2,
                               gain=0.02, jpeg_quality=90)
    b = random_sensor_nuisance(img, np.random.default_rng(0), noise_std=2,
                               gain=0.02, jpeg_quality=90)
    assert a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, img.astype(np.uint8))
    assert np.array_equal(apply_sensor_nuisance(img, gain=1.5),
                          np.full((16, 16, 3), 150, np.uint8))
    # rounded to the nearest grey level, not truncated: 100 * 1.007 = 100.7 -> 101,
    # and zero-mean noise leaves the mean level where it was
    assert np.array_equal(apply_sensor_nuisance(img, gain=1.007),
                          np.full((16, 16, 3), 101, np.uint8))
    grey = np.full((256, 256, 3), 100.0)
    noisy = apply_sensor_nuisance(grey, noise_std=2, rng=np.random.default_rng(0))
    assert abs(noisy.mean() - 100.0) < 0.05
    # JPEG keeps a colour in either channel order
    colour = np.zeros((16, 16, 3))
    colour[..., 0] = 200
    rgb = apply_sensor_nuisance(colour, jpeg_quality=95)
    bgr = apply_sensor_nuisance(colour[..., ::-1], jpeg_quality=95, bgr=True)
    assert np.abs(rgb.astype(int) - bgr[..., ::-1]).max() <= 2
    assert abs(int(rgb[..., 0].mean()) - 200) <= 3
    with pytest.raises(ValueError, match='gain'):
        random_sensor_nuisance(img, np.random.default_rng(0), gain=1.5)
    with pytest.raises(ValueError, match='needs rng'):
        apply_sensor_nuisance(img, noise_std=1)
