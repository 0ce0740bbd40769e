"""Motion-compensated EMA (issue 23, item 4): on a translating toy video the
past, warped by the flow from each frame to the previous one, keeps the
object where it is while plain EMA trails it; zero flow is plain EMA
exactly; invalid and out-of-frame pixels take the current logits; the
stock-test-loop wrapper passes paths and images to the flow source in that
direction and resizes the flow to the logits; its config builds."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_temporal  # noqa: F401
from mmseg_temporal.inference.smoothing import (
    EMASmoother,
    ema_smooth_logits,
    ema_step,
    flow_at_logits,
)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE_CFG = osp.join(ROOT, 'configs/camvid_cpu/camvid_cpu_15hz_test.py')
MC_CFG = osp.join(ROOT, 'configs/camvid_cpu/camvid_cpu_15hz_mcema_test.py')
H, W, SIDE, X0, Y0, STEP = 40, 64, 12, 6, 14, 4  # a square moving STEP px right


def square(t, scale=1):
    """``(H, W)`` bool mask of the square in frame t (at ``scale``)."""
    m = np.zeros((H * scale, W * scale), bool)
    x = (X0 + STEP * t) * scale
    m[Y0 * scale:(Y0 + SIDE) * scale, x:x + SIDE * scale] = True
    return m


def exact_flow(t, scale=1):
    """Flow from frame t to frame t-1 and its validity: the square's pixels
    came from STEP px to the left; the background did not move; background
    pixels the square covered in frame t-1 are not visible there."""
    flow = np.zeros((2, H * scale, W * scale), np.float32)
    flow[0][square(t, scale)] = -STEP * scale
    valid = ~(square(t - 1, scale) & ~square(t, scale))
    return flow, valid


def toy_logits(t):
    """``(2, H, W)`` logits: class 1 (object) on the square, else class 0."""
    obj = torch.from_numpy(square(t)).float()
    return torch.stack([2 - 4 * obj, 4 * obj - 2])


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def smoothed_labels(alpha, motion, frames=8):
    smoother, labels = EMASmoother(alpha), []
    for t in range(frames):
        flow, valid = exact_flow(t) if motion and t else (None, None)
        labels.append(smoother(toy_logits(t), flow, valid).argmax(0).numpy() == 1)
    return labels


def test_motion_compensated_ema_follows_the_object_plain_ema_trails_it():
    plain, moving = smoothed_labels(0.7, False), smoothed_labels(0.7, True)
    for t in range(1, 8):
        assert iou(moving[t], square(t)) == 1.
    trailing = [iou(plain[t], square(t)) for t in range(1, 8)]
    assert max(trailing) < 0.8  # it lags: IoU 0.5-0.67 here
    assert not plain[7][Y0 + 1, X0 + STEP * 7 + SIDE - 1]  # the front is lost


def test_zero_flow_is_plain_ema_exactly():
    torch.manual_seed(0)
    z = torch.randn(5, 3, 10, 12)
    ref = ema_smooth_logits(z, 0.6)
    smoother = EMASmoother(0.6)
    zero = torch.zeros(2, 10, 12)
    got = torch.stack([smoother(x, zero).clone() for x in z])
    assert torch.equal(got, ref)
    # numpy in, numpy out, the same numbers
    out = ema_step(z[0].numpy(), z[1].numpy(), 0.6, zero.numpy())
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, (0.6 * z[0] + 0.4 * z[1]).numpy())


def test_warp_direction_and_fallback_of_invalid_and_out_of_frame_pixels():
    torch.manual_seed(1)
    past, z = torch.randn(3, 10, 12), torch.randn(3, 10, 12)
    flow = torch.zeros(2, 10, 12)
    flow[0], flow[1] = -2., 1.  # each pixel was 2 px left, 1 px down
    valid = torch.rand(10, 12) > 0.3
    out = ema_step(past, z, 0.5, flow, valid)
    for y in range(10):
        for x in range(12):
            src = (y + 1, x - 2)
            if valid[y, x] and 0 <= src[0] < 10 and 0 <= src[1] < 12:
                want = 0.5 * past[:, src[0], src[1]] + 0.5 * z[:, y, x]
                torch.testing.assert_close(out[:, y, x], want)
            else:  # occluded, or came from outside the frame: no blending
                assert torch.equal(out[:, y, x], z[:, y, x])
    assert (~valid).any() and valid[:, 2:][:-1].any()  # both cases happen
    with pytest.raises(ValueError, match='valid mask'):
        ema_step(past, z, 0.5, flow, valid[:5])


def test_flow_at_logits_scales_resizes_and_pads():
    flow = np.zeros((2, 20, 24), np.float32)
    flow[0], flow[1] = 4., -2.
    valid = np.ones((20, 24), bool)
    valid[:, :12] = False
    out, ok = flow_at_logits(flow, valid, (12, 14), (0, 2, 0, 2))
    assert out.shape == (2, 12, 14) and ok.shape == (12, 14)
    assert torch.all(out[0, :10, :12] == 2.) and torch.all(out[1, :10, :12] == -1.)
    assert not ok[10:].any() and not ok[:, 12:].any()  # padding: invalid
    assert not ok[:10, :6].any() and ok[:10, 6:12].all()
    same, ok = flow_at_logits(flow, None, (20, 24))
    assert torch.equal(same, torch.from_numpy(flow)) and ok.all()


class StubFlow:
    """The toy video's exact flow, served by file name; records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, path_a, path_b, img_a, img_b):
        self.calls.append((path_a, path_b, img_a, img_b))
        t_a, t_b = (int(osp.basename(p)[:4]) for p in (path_a, path_b))
        assert t_b == t_a - 1, 'asked for the flow in the wrong direction'
        return exact_flow(t_a, scale=2)


def write_frames(folder, frames):
    """Frames at twice the logits' size (the model sees them halved)."""
    paths = []
    for t in range(frames):
        img = np.zeros((2 * H, 2 * W, 3), np.uint8)
        img[square(t, 2)] = (0, 0, 255)  # red in BGR
        paths.append(str(folder / f'{t:04d}.png'))
        cv2.imwrite(paths[-1], img)
    return paths


def _segmentor(alpha, motion):
    model = MODELS.build(dict(type='EMASmoothedSegmentor', alpha=alpha,
                              motion=motion,
                              segmentor=Config.fromfile(BASE_CFG).model)).eval()
    # the frame model's logits: the toy logits of the frame shown
    model.frame_model.inference = lambda inputs, metas: torch.stack(
        [toy_logits(int(osp.basename(m['img_path'])[:4])) for m in metas])
    return model


def _run(model, paths):
    labels = []
    for t, path in enumerate(paths):
        meta = dict(seq_name='toy', frame_index=t, img_path=path,
                    ori_shape=(H, W), img_shape=(H, W), pad_shape=(H, W),
                    padding_size=[0, 0, 0, 0])
        out = model.predict(torch.zeros(1, 3, H, W), [SegDataSample(metainfo=meta)])
        labels.append(out[0].pred_sem_seg.data[0].numpy() == 1)
    return labels


def test_segmentor_with_motion_follows_the_object(tmp_path):
    paths = write_frames(tmp_path, 6)
    source = StubFlow()
    moving = _run(_segmentor(0.7, source), paths)
    plain = _run(_segmentor(0.7, None), paths)
    for t in range(1, 6):
        assert iou(moving[t], square(t)) == 1.
    assert max(iou(plain[t], square(t)) for t in range(1, 6)) < 0.8
    assert [c[:2] for c in source.calls] == list(zip(paths[1:], paths[:-1]))
    path_a, _, img_a, img_b = source.calls[0]
    assert img_a.shape == (2 * H, 2 * W, 3)  # RGB at the file's size
    assert (img_a[square(1, 2)] == (255, 0, 0)).all()
    assert (img_b[square(0, 2)] == (255, 0, 0)).all()


def test_segmentor_with_motion_needs_img_path():
    model = _segmentor(0.5, StubFlow())
    meta = dict(seq_name='a', frame_index=0, ori_shape=(H, W), img_shape=(H, W),
                pad_shape=(H, W), padding_size=[0, 0, 0, 0], img_path=None)
    model.frame_model.inference = lambda inputs, metas: toy_logits(0)[None]
    with pytest.raises(KeyError, match='img_path'):
        model.predict(torch.zeros(1, 3, H, W), [SegDataSample(metainfo=meta)])


def test_motion_config_builds_with_dis_fast(monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(MC_CFG)
    assert cfg.model.type == 'EMASmoothedSegmentor'
    model = MODELS.build(cfg.model)
    assert model.smoother.alpha == 0.5
    assert model.motion.estimator.preset == 'fast'
