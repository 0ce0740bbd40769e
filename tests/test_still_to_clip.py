"""StillToClip: clips made of one labelled frame under random camera motions,
exact flows and validity; composed with the video transforms and packing;
mixed with real triplets; one TL training step on such clips."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.flow.ops import flow_warp

ROOT = Path(__file__).resolve().parents[1]
H, W = 60, 80
NO_NUISANCE = dict(noise_std=0, gain=0, jpeg_quality=0)


def smooth_bgr():
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.stack([128 + 60 * np.sin(xx / 7) + 30 * np.cos(yy / 5),
                    100 + 50 * np.cos((xx + yy) / 9),
                    128 + 40 * np.sin(yy / 6)], -1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def still(label=None):
    label = np.arange(H * W).reshape(H, W) % 5 if label is None else label
    return dict(img=smooth_bgr(), img_path='frame.png', img_shape=(H, W),
                ori_shape=(H, W), gt_seg_map=label.astype(np.uint8),
                seg_fields=['gt_seg_map'])


def to_tensor(img):
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()


@pytest.mark.parametrize('seed', range(3))
def test_flows_warp_the_clip_onto_the_labelled_frame(seed):
    np.random.seed(seed)
    t = TRANSFORMS.build(dict(type='StillToClip', nuisance=NO_NUISANCE))
    out = t(still())
    imgs, flows, valid = out['imgs'], out['flows'], out['flow_valid']
    assert len(imgs) == 3 and out['label_index'] == 1 and out['still_clip']
    assert flows.shape == (2, H, W, 2) and flows.dtype == np.float32
    assert valid.shape == (2, H, W) and valid.dtype == bool
    assert np.array_equal(imgs[1], smooth_bgr())  # the labelled frame itself
    assert 'img' not in out and out['img_paths'] == ['frame.png'] * 3
    for i in range(2):  # flows[i]: frame i -> i+1; warping i+1 gives i
        flow = torch.from_numpy(flows[i]).permute(2, 0, 1)[None]
        back, _ = flow_warp(to_tensor(imgs[i + 1]), flow)
        err = (back - to_tensor(imgs[i])).abs().amax(1)[0].numpy()
        ok = valid[i]
        assert 0.5 < ok.mean() < 1  # some pixels leave the frame
        assert err[ok].max() <= 2.5  # bilinear twice + uint8 rounding
        assert np.median(err[~ok]) > err[ok].mean()  # what is excluded is wrong
        # a pixel whose flow leaves the frame is invalid (up to flow_warp's
        # 1e-4 px tolerance at the edge)
        xs = np.arange(W)[None] + flows[i][..., 0]
        ys = np.arange(H)[:, None] + flows[i][..., 1]
        e = 1e-3
        outside = (xs < -e) | (xs > W - 1 + e) | (ys < -e) | (ys > H - 1 + e)
        assert outside.any() and not (ok & outside).any()
    # frames are independent draws
    assert not np.array_equal(imgs[0], imgs[2])


def test_sensor_nuisance_is_per_frame():
    np.random.seed(0)
    still_motion = dict(shift=0, rotation=0, zoom=0, shear=0)
    out = TRANSFORMS.build(dict(type='StillToClip', motion=still_motion,
                                nuisance=dict(noise_std=3, gain=0.05,
                                              jpeg_quality=80)))(still())
    frames = [f.astype(int) for f in out['imgs']]
    assert all(f.dtype == np.uint8 for f in out['imgs'])
    assert not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[1], smooth_bgr())  # labelled frame too
    assert np.abs(frames[0] - frames[2]).mean() > 1
    assert np.abs(frames[1] - smooth_bgr()).mean() < 10
    np.testing.assert_array_equal(out['flows'], 0)
    assert out['flow_valid'].all()


def test_composes_with_video_transforms_and_packing(tmp_path):
    """A labelled image dataset's pipeline: frame + label -> clip -> the
    video transforms -> PackVideoSegInputs; after crop and flip the flows
    still warp the clip onto itself."""
    cv2.imwrite(str(tmp_path / 'a.png'), smooth_bgr())
    label = (np.arange(H)[:, None] // 12 + np.zeros(W, int)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'a_L.png'), label)
    pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='StillToClip', nuisance=NO_NUISANCE),
        dict(type='VideoRandomCrop', crop_size=(48, 64)),
        dict(type='VideoRandomFlip', prob=1.0),
        dict(type='PackVideoSegInputs')]
    np.random.seed(1)
    results = dict(img_path=str(tmp_path / 'a.png'),
                   seg_map_path=str(tmp_path / 'a_L.png'), seg_fields=[],
                   reduce_zero_label=False)
    for step in pipeline:
        results = TRANSFORMS.build(step)(results)
    inputs, sample = results['inputs'], results['data_samples']
    assert inputs.shape == (3, 3, 48, 64) and inputs.dtype == torch.uint8
    assert sample.flows.shape == (2, 2, 48, 64)
    assert sample.flow_valid.shape == (2, 1, 48, 64)
    assert sample.metainfo['label_index'] == 1
    assert sample.gt_sem_seg.data.shape == (1, 48, 64)
    for i in range(2):
        back, inside = flow_warp(inputs[i + 1][None].float(),
                                 sample.flows[i][None])
        err = (back - inputs[i][None].float()).abs().amax(1)[0]
        # after the crop, as for real triplets: valid and inside the crop
        assert err[sample.flow_valid[i, 0] & inside[0, 0]].max() <= 2.5


def triplets(root, prob):
    return DATASETS.build(dict(
        type='SyntheticVideoDataset', data_root=root, num_videos=2,
        frames_per_video=12, height=48, width=64, label_start=4,
        label_interval=4, offsets_before=(1, 3), offsets_after=(1, 3), pipeline=[
            dict(type='LoadVideoFrames'),
            dict(type='LoadVideoAnnotations', neighbour_labels=True),
            dict(type='LoadSyntheticFlow'),
            dict(type='StillToClip', prob=prob, nuisance=NO_NUISANCE)]))


def test_mixes_synthetic_clips_with_real_triplets(synthetic_root):
    real = triplets(synthetic_root, 0.0)
    mixed = triplets(synthetic_root, 0.5)
    made = triplets(synthetic_root, 1.0)
    np.random.seed(0)
    r = real[0]
    assert r['still_clip'] is False and len(set(r['img_paths'])) == 3
    m = made[0]
    assert m['still_clip'] and len(m['imgs']) == len(r['imgs'])
    li = m['label_index']
    assert li == r['label_index']
    assert np.array_equal(m['imgs'][li], r['imgs'][li])
    assert np.array_equal(m['gt_seg_map'], r['gt_seg_map'])
    # neighbour labels are the labelled frame's, moved (ignore where unknown)
    frames = m['gt_seg_map_frames']
    assert np.array_equal(frames[li], r['gt_seg_map'])
    assert (frames != 255).mean() > 0.5 and (frames == 255).any()
    np.random.seed(0)
    share = np.mean([mixed[i % len(mixed)]['still_clip'] for i in range(120)])
    assert 0.35 < share < 0.65


def test_errors_name_the_fault():
    with pytest.raises(ValueError, match=r"unknown motion key\(s\) \['shfit'\]"):
        TRANSFORMS.build(dict(type='StillToClip', motion=dict(shfit=3)))
    with pytest.raises(ValueError, match='prob must be in'):
        TRANSFORMS.build(dict(type='StillToClip', prob=2))
    with pytest.raises(ValueError, match='label_index'):
        TRANSFORMS.build(dict(type='StillToClip', num_frames=2, label_index=2))
    with pytest.raises(KeyError, match='needs a frame'):
        TRANSFORMS.build(dict(type='StillToClip'))(dict(img_path='x.png'))
    bare = still()
    del bare['gt_seg_map']
    with pytest.raises(KeyError, match='gt_seg_map'):
        TRANSFORMS.build(dict(type='StillToClip'))(bare)


def test_one_tl_training_step_on_still_clips():
    """TemporalDistillSegmentor with TL trains one step on a batch of clips
    made of still frames (exact flow from the data, no flow network)."""
    cfg = Config.fromfile(str(ROOT / 'configs' / 'synthetic' /
                              'pspnet_tiny_tl_synthetic.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    pipeline = [TRANSFORMS.build(dict(type='StillToClip')),
                TRANSFORMS.build(dict(type='PackVideoSegInputs'))]
    np.random.seed(0)
    batch = []
    for seed in range(2):
        results = still(np.random.default_rng(seed).integers(0, 5, (H, W)))
        for t in pipeline:
            results = t(results)
        batch.append(results)
    data = dict(inputs=[b['inputs'] for b in batch],
                data_samples=[b['data_samples'] for b in batch])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    before = [p.detach().clone() for p in model.student.parameters()]
    log_vars = model.train_step(data, optim)
    assert {'loss_tl', 'decode.loss_ce'} <= set(log_vars)
    loss_tl = torch.as_tensor(log_vars['loss_tl']).detach()
    assert torch.isfinite(loss_tl) and loss_tl > 0
    assert any(not torch.equal(a, b) for a, b in
               zip(before, model.student.parameters()))
