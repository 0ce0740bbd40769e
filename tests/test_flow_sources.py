"""Flow sources (mmseg_temporal.flow.sources): one call
``(flow, valid) = source(path_a, path_b, img_a, img_b)``, built from
TASK_UTILS, estimator configs or callables; the forward-backward check."""
import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, MODELS, TASK_UTILS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.datasets.synthetic_flow import SyntheticExactFlow
from mmseg_temporal.datasets.synthetic_format import (
    read_layers,
    read_velocities,
    synthetic_flow_between,
    synthetic_frame_files,
)
from mmseg_temporal.flow.ops import forward_backward_valid
from mmseg_temporal.flow.sources.base import CallableFlowSource, build_flow_source
from mmseg_temporal.flow.sources.estimator import EstimatorFlow, flow_of_images
from mmseg_temporal.flow.sources.forward_backward import ForwardBackwardChecked
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.image import read_rgb

ULTRAFAST = dict(type='DISFlow', preset='ultrafast')
# The shared small split of tests/test_video_transforms.py.
SYNTH = dict(num_videos=2, frames_per_video=12, height=48, width=64,
             label_start=4, label_interval=4)


@pytest.fixture(scope='module')
def frames(synthetic_root):
    """Image paths of the first synthetic video, in time order."""
    ds = DATASETS.build(dict(type='SyntheticVideoDataset',
                             data_root=synthetic_root, sample_mode='sequence',
                             pipeline=[], **SYNTH))
    return [ds.get_data_info(i)['img_path'] for i in range(12)]


def exact(a, b):
    fa, fb = synthetic_frame_files(a), synthetic_frame_files(b)
    return synthetic_flow_between(read_layers(fa['layers']),
                                  read_layers(fb['layers']),
                                  read_velocities(fa['motion']),
                                  fb['frame'] - fa['frame'])


def test_sources_are_task_utils_only():
    """A flow source is not a model: a model's ``flow`` (an estimator run on
    tensors) naming one is refused when built, not at the first step."""
    for name in ('PrecomputedFlow', 'SyntheticExactFlow', 'EstimatorFlow',
                 'ForwardBackwardChecked'):
        assert TASK_UTILS.get(name) is not None, name
        assert MODELS.get(name) is None, name
    with pytest.raises(KeyError, match='SyntheticExactFlow'):
        MODELS.build(dict(type='SyntheticExactFlow'))


def test_build_flow_source_dispatch(tmp_path):
    assert isinstance(build_flow_source(dict(type='SyntheticExactFlow')),
                      SyntheticExactFlow)
    src = build_flow_source(dict(type='PrecomputedFlow',
                                 cache_dir=str(tmp_path)))
    assert isinstance(src, PrecomputedFlow)
    assert build_flow_source(src) is src  # a built source is kept
    est = build_flow_source(ULTRAFAST)  # a MODELS estimator config
    assert isinstance(est, EstimatorFlow) and est.estimator_cfg == ULTRAFAST
    module = build_flow_source(MODELS.build(ULTRAFAST))
    assert isinstance(module, EstimatorFlow)
    with pytest.raises(KeyError, match="'NoSuchFlow'.*TASK_UTILS.*MODELS"):
        build_flow_source(dict(type='NoSuchFlow'))
    with pytest.raises(TypeError, match='config dict or a callable'):
        build_flow_source(3)


def test_callable_adapter_normalises_returns():
    flow = np.ones((2, 4, 5), np.float64)
    src = build_flow_source(lambda a, b, ia, ib: flow)
    assert isinstance(src, CallableFlowSource)
    out, valid = src('a', 'b')
    assert out.dtype == np.float32 and valid is None
    assert np.array_equal(out, flow)
    mask = np.zeros((4, 5), np.uint8)
    _, valid = build_flow_source(lambda a, b, ia, ib: (torch.ones(2, 4, 5),
                                                       mask))('a', 'b')
    assert valid.dtype == bool and valid.shape == (4, 5)
    with pytest.raises(ValueError, match=r'\(2, H, W\)'):
        build_flow_source(lambda *a: np.ones((3, 4, 5)))('a', 'b')
    with pytest.raises(ValueError, match='valid mask'):
        build_flow_source(lambda *a: (flow, np.ones((4, 6))))('a', 'b')


def test_synthetic_exact_flow_one_call(frames):
    src = build_flow_source(dict(type='SyntheticExactFlow'))
    flow, valid = src(frames[3], frames[4])
    ref_flow, ref_vis = exact(frames[3], frames[4])
    assert flow.shape == (2, 48, 64) and flow.dtype == np.float32
    assert np.array_equal(flow, ref_flow) and np.array_equal(valid, ref_vis)
    with pytest.raises(ValueError, match='native 64x48'):
        src(frames[3], frames[4], np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(ValueError, match='not a synthetic-video frame'):
        src('/x/a.png', frames[4])


def test_estimator_flow_reads_files_and_equals_the_estimator(frames):
    src = EstimatorFlow(ULTRAFAST)
    a, b = read_rgb(frames[2]), read_rgb(frames[3])
    ref = flow_of_images(MODELS.build(ULTRAFAST), a, b)
    got, valid = src(frames[2], frames[3])  # images read from the files
    assert valid is None and np.array_equal(got, ref)
    assert np.array_equal(src(frames[2], frames[3], a, b)[0], ref)


def naive_fb_valid(fab, fba, alpha, beta):
    """Per-pixel loop: bilinear f_ba at x + f_ab, the round-trip test."""
    _, h, w = fab.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            tx, ty = x + fab[0, y, x], y + fab[1, y, x]
            if not (0 <= tx <= w - 1 and 0 <= ty <= h - 1):
                continue
            x0, y0 = int(np.floor(tx)), int(np.floor(ty))
            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
            ax, ay = tx - x0, ty - y0
            back = ((1 - ax) * (1 - ay) * fba[:, y0, x0] +
                    ax * (1 - ay) * fba[:, y0, x1] +
                    (1 - ax) * ay * fba[:, y1, x0] + ax * ay * fba[:, y1, x1])
            miss = ((fab[:, y, x] + back)**2).sum()
            motion = (fab[:, y, x]**2).sum() + (back**2).sum()
            out[y, x] = miss < alpha * motion + beta
    return out


@pytest.mark.parametrize('alpha,beta', [(0.01, 0.5), (0.1, 2.0)])
def test_forward_backward_valid_equals_naive_loop(alpha, beta):
    g = torch.Generator().manual_seed(0)
    ys = torch.arange(12, dtype=torch.float64)[:, None].expand(12, 14)
    fab = torch.stack([1.5 + 0.8 * torch.sin(ys / 3), torch.full_like(ys, -0.7)])[None]
    fba = -fab + torch.randn(1, 2, 12, 14, generator=g,
                             dtype=torch.float64) * 0.6
    got = forward_backward_valid(fab, fba, alpha, beta)
    assert got.shape == (1, 1, 12, 14) and got.dtype == torch.bool
    ref = naive_fb_valid(fab[0].numpy(), fba[0].numpy(), alpha, beta)
    assert 0.1 < ref.mean() < 0.95  # both outcomes occur
    assert np.array_equal(got[0, 0].numpy(), ref)


def test_forward_backward_check_of_exact_flow_drops_occlusions(frames):
    """Around the exact flow: valid = visibility AND the check; occluded
    pixels (on the synthetic video, where a layer covers another) fail the
    round trip wherever the two layers move differently."""
    src = ForwardBackwardChecked(dict(type='SyntheticExactFlow'))
    for a, b in [(frames[3], frames[4]), (frames[7], frames[5])]:
        flow, valid = src(a, b)
        ref_flow, vis = exact(a, b)
        back, _ = exact(b, a)
        fb = forward_backward_valid(torch.from_numpy(ref_flow)[None],
                                    torch.from_numpy(back)[None])[0, 0].numpy()
        assert np.array_equal(flow, ref_flow)
        assert np.array_equal(valid, vis & fb)
        # Exact flow of visible pixels comes back exactly: the check keeps
        # (almost) every one of them.
        assert (vis & fb).sum() >= 0.98 * vis.sum()


def test_forward_backward_mask_lowers_dis_error(frames):
    """DIS flow, checked both ways: the kept pixels have a lower endpoint
    error against the exact flow than all pixels (it removes occlusions and
    flow errors), and it keeps most of the frame."""
    src = build_flow_source(dict(type='ForwardBackwardChecked',
                                 source=ULTRAFAST))
    kept_epe, all_epe, kept = [], [], []
    for t in range(2, 10, 2):
        flow, valid = src(frames[t], frames[t + 1])
        ref, _ = exact(frames[t], frames[t + 1])
        epe = np.sqrt(((flow - ref)**2).sum(0))
        kept_epe.append(epe[valid].mean())
        all_epe.append(epe.mean())
        kept.append(valid.mean())
    assert np.mean(kept_epe) < np.mean(all_epe)
    assert 0.5 < np.mean(kept) < 1.0


def test_forward_backward_rejects_negative_tolerances():
    with pytest.raises(ValueError, match='alpha and beta'):
        ForwardBackwardChecked(dict(type='SyntheticExactFlow'), alpha=-1)


def test_needs_pixels_says_which_sources_read_the_frames(tmp_path):
    """Callers skip reading frames for sources whose flow comes from files."""
    from mmseg_temporal.datasets import SyntheticExactFlow
    from mmseg_temporal.flow.sources import (
        EstimatorFlow,
        ForwardBackwardChecked,
        PrecomputedFlow,
        build_flow_source,
    )
    from mmseg_temporal.flow.sources.base import needs_pixels
    cache_only = PrecomputedFlow(str(tmp_path / 'c'), on_missing='error')
    filling = PrecomputedFlow(str(tmp_path / 'c'), on_missing='compute',
                              estimator=dict(type='DISFlow'))
    assert not needs_pixels(SyntheticExactFlow())
    assert not needs_pixels(cache_only) and needs_pixels(filling)
    assert needs_pixels(EstimatorFlow(dict(type='DISFlow')))
    assert not needs_pixels(ForwardBackwardChecked(cache_only))
    assert needs_pixels(ForwardBackwardChecked(dict(type='DISFlow')))
    assert needs_pixels(build_flow_source(lambda a, b, ia, ib: None))
