"""EMASmoothedSegmentor: the smoothing baseline in the stock test loop."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_temporal  # noqa: F401
from mmseg_temporal.inference.smoothing import ema_smooth_logits

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs', 'camvid_cpu', 'camvid_cpu_15hz_test.py')
HW = (40, 48)


def _inner_cfg():
    return Config.fromfile(CFG).model


def _samples(seq_frames):
    return [SegDataSample(metainfo=dict(seq_name=s, frame_index=i, ori_shape=HW,
                                        img_shape=HW, pad_shape=HW,
                                        padding_size=[0, 0, 0, 0]))
            for s, i in seq_frames]


def _wrapped(alpha):
    torch.manual_seed(0)
    inner = MODELS.build(_inner_cfg()).eval()
    model = MODELS.build(dict(type='EMASmoothedSegmentor', alpha=alpha,
                              segmentor=_inner_cfg())).eval()
    load_state_dict(model, inner.state_dict(), strict=True)  # the inner's ckpt
    return inner, model


def test_wrapped_checkpoint_loads_with_its_own_keys():
    inner, model = _wrapped(0.5)
    for key, value in inner.state_dict().items():
        torch.testing.assert_close(model.state_dict()['segmentor.' + key], value)
    # a checkpoint of the wrapper itself loads too
    load_state_dict(model, model.state_dict(), strict=True)


def test_predict_is_the_ema_of_the_frame_models_logits_reset_per_video():
    inner, model = _wrapped(0.6)
    frames = torch.rand(6, 3, *HW) * 4 - 2
    order = [('a', 0), ('a', 1), ('a', 2), ('b', 0), ('b', 1), ('b', 3)]
    out = []
    with torch.no_grad():
        raw = [inner.predict(frames[i:i + 1], _samples([k]))[0].seg_logits.data
               for i, k in enumerate(order)]
        for i, k in enumerate(order):  # one frame a batch, as the test loop
            out += model.predict(frames[i:i + 1], _samples([k]))
    ref = np.concatenate([ema_smooth_logits(torch.stack(raw[:3]), 0.6).numpy(),
                          ema_smooth_logits(torch.stack(raw[3:5]), 0.6).numpy(),
                          raw[5][None].numpy()])  # frame 3 after 1: a gap, reset
    got = np.stack([s.seg_logits.data.numpy() for s in out])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got[1], raw[1].numpy(), atol=1e-4)  # it smooths
    labels = np.stack([s.pred_sem_seg.data[0].numpy() for s in out])
    np.testing.assert_array_equal(labels, ref.argmax(1))


def test_batch_of_consecutive_frames_equals_one_at_a_time():
    _, model = _wrapped(0.5)
    frames = torch.rand(3, 3, *HW)
    order = [('a', 0), ('a', 1), ('a', 2)]
    with torch.no_grad():
        batch = model.predict(frames, _samples(order))
        model._last = None
        single = [model.predict(frames[i:i + 1], _samples([k]))[0]
                  for i, k in enumerate(order)]
    for b, s in zip(batch, single):
        torch.testing.assert_close(b.seg_logits.data, s.seg_logits.data)


def test_alpha_zero_is_the_model_and_training_refuses():
    inner, model = _wrapped(0.)
    frames = torch.rand(2, 3, *HW)
    with torch.no_grad():
        a = inner.predict(frames, _samples([('a', 0), ('a', 1)]))
        b = model.predict(frames, _samples([('a', 0), ('a', 1)]))
    for x, y in zip(a, b):
        torch.testing.assert_close(x.seg_logits.data, y.seg_logits.data)
    with pytest.raises(RuntimeError, match='test-time'):
        model.loss(frames, _samples([('a', 0), ('a', 1)]))
    with pytest.raises(ValueError, match='alpha'):
        MODELS.build(dict(type='EMASmoothedSegmentor', alpha=1.0,
                          segmentor=_inner_cfg()))


def test_checked_runner_accepts_the_wrapped_models_checkpoint_and_refuses_others():
    from types import SimpleNamespace

    from mmseg_temporal.utils.checkpoint import CheckpointError
    from mmseg_temporal.utils.runner import CheckedLoadRunner
    inner, model = _wrapped(0.5)
    runner = SimpleNamespace(checkpoint_must_fit=True, _resume=False)
    CheckedLoadRunner.check_fits(runner, model, dict(state_dict=inner.state_dict()), 'a.pth')
    CheckedLoadRunner.check_fits(runner, model, dict(state_dict=model.state_dict()), 'b.pth')
    broken = {k: v for k, v in inner.state_dict().items() if 'decode_head' not in k}
    with pytest.raises(CheckpointError, match='c.pth'):
        CheckedLoadRunner.check_fits(runner, model, dict(state_dict=broken), 'c.pth')
