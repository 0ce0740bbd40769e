"""Multi-frame transforms, packing and the video data preprocessor."""
import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.flow.ops import flow_warp


def triplet_dataset(root, geometric):
    pipeline = [
        dict(type='LoadVideoFrames'),
        dict(type='LoadVideoAnnotations', neighbour_labels=True),
        dict(type='LoadSyntheticFlow'),
        *geometric,
        dict(type='PackVideoSegInputs'),
    ]
    return DATASETS.build(dict(
        type='SyntheticVideoDataset', data_root=root, num_videos=2,
        frames_per_video=12, height=48, width=64, label_start=4,
        label_interval=4, offsets_before=(1, 3), offsets_after=(1, 3),
        pipeline=pipeline))


GEOMETRIC = {
    'none': [],
    'resize0.5+crop+flip': [
        dict(type='VideoResize', scale_factor=0.5),
        dict(type='VideoRandomCrop', crop_size=(20, 24)),
        dict(type='VideoRandomFlip', prob=1.0)],
    'resize2+crop+flip': [
        dict(type='VideoResize', scale_factor=2.0),
        dict(type='VideoRandomCrop', crop_size=(64, 80)),
        dict(type='VideoRandomFlip', prob=1.0)],
    'crop+noflip': [
        dict(type='VideoRandomCrop', crop_size=(40, 40)),
        dict(type='VideoRandomFlip', prob=0.0)],
}


@pytest.mark.parametrize('name', list(GEOMETRIC))
def test_warped_labels_exact_after_transforms(synthetic_root, name):
    """Warping frame b's labels with the transformed flow l -> b reproduces
    the labelled frame's labels wherever the flow says it is visible; the
    same for f -> l."""
    ds = triplet_dataset(synthetic_root, GEOMETRIC[name])
    np.random.seed(0)
    checked = 0
    for idx in range(len(ds)):
        out = ds[idx]
        s = out['data_samples']
        labels = s.gt_sem_seg_frames  # (3, H, W)
        flows, valid = s.flows, s.flow_valid  # (2, 2, H, W), (2, 1, H, W)
        assert out['inputs'].shape[:2] == (3, 3)
        assert torch.equal(labels[1], s.gt_sem_seg.data[0])
        for a in range(2):
            warped, inside = flow_warp(labels[a + 1][None, None].float(),
                                       flows[a][None], mode='nearest')
            m = valid[a, 0] & inside[0, 0]
            assert m.float().mean() > 0.2
            assert torch.equal(warped[0, 0][m].long(), labels[a][m])
            checked += int(m.sum())
    assert checked > 1000


def test_flip_negates_horizontal_flow(synthetic_root):
    plain = triplet_dataset(synthetic_root, [])
    flipped = triplet_dataset(synthetic_root, [dict(type='VideoRandomFlip', prob=1.0)])
    plain.sample_policy = flipped.sample_policy = 'fixed'
    a, b = plain[0]['data_samples'], flipped[0]['data_samples']
    assert torch.equal(b.flows[:, 0], -a.flows[:, 0].flip(-1))
    assert torch.equal(b.flows[:, 1], a.flows[:, 1].flip(-1))
    assert b.flip and not a.get('flip', False)


def test_resize_scales_flow_values(synthetic_root):
    plain = triplet_dataset(synthetic_root, [])
    half = triplet_dataset(synthetic_root, [dict(type='VideoResize', scale_factor=0.5)])
    plain.sample_policy = half.sample_policy = 'fixed'
    a, b = plain[1]['data_samples'], half[1]['data_samples']
    assert b.flows.shape[-2:] == (24, 32)
    assert torch.equal(b.flows, a.flows[..., ::2, ::2] * 0.5)
    assert b.img_shape == (24, 32) and b.scale_factor == (0.5, 0.5)


def test_photometric_same_draw_for_all_frames():
    from mmseg_temporal.datasets.transforms import VideoPhotoMetricDistortion
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    t = VideoPhotoMetricDistortion()
    np.random.seed(3)
    out = t(dict(imgs=[img, img.copy(), img.copy()]))['imgs']
    assert not np.array_equal(out[0], img)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])


def test_random_crop_cat_max_ratio():
    from mmseg_temporal.datasets.transforms import VideoRandomCrop
    seg = np.zeros((40, 40), np.uint8)
    seg[:, 30:] = 1  # class 1 only in the right quarter
    np.random.seed(0)
    res = VideoRandomCrop((10, 10), cat_max_ratio=0.75)(dict(
        imgs=[np.zeros((40, 40, 3), np.uint8)] * 3, gt_seg_map=seg,
        seg_fields=['gt_seg_map']))
    _, counts = np.unique(res['gt_seg_map'], return_counts=True)
    assert len(counts) == 2 and counts.max() / counts.sum() < 0.75


def test_missing_frame_at_load_names_file(synthetic_root, tmp_path):
    from mmseg_temporal.datasets.transforms import LoadVideoFrames
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadVideoFrames()(dict(img_paths=[str(tmp_path / 'nope.png')],
                               seq_name='s', img_path='x'))


def test_preprocessor_stacks_and_pads(synthetic_root):
    ds = triplet_dataset(synthetic_root, [])
    pre = MODELS.build(dict(type='VideoSegDataPreProcessor',
                            mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                            size=(56, 72)))
    batch = [ds[0], ds[1]]
    data = dict(inputs=[b['inputs'] for b in batch],
                data_samples=[b['data_samples'] for b in batch])
    out = pre(data, training=True)
    x, samples = out['inputs'], out['data_samples']
    assert x.shape == (2, 3, 3, 56, 72) and x.dtype == torch.float32
    assert samples[0].gt_sem_seg.data.shape == (1, 56, 72)
    assert (samples[0].gt_sem_seg.data[:, 48:] == 255).all()
    assert samples[0].flows.shape == (2, 2, 56, 72)
    assert not samples[0].flow_valid[..., 48:, :].any()
    assert samples[0].padding_size == [0, 8, 0, 8]
    # unnormalize gives back the RGB frames of the input
    rgb = pre.unnormalize(x)[0, :, :, :48, :64]
    ref = batch[0]['inputs'].float().flip(1)
    assert torch.allclose(rgb, ref, atol=1e-3)
    # single frames go through MMSeg's own path
    single = pre(dict(inputs=[batch[0]['inputs'][1]],
                      data_samples=[batch[0]['data_samples']]), training=False)
    assert single['inputs'].shape == (1, 3, 48, 64)


def test_load_flow_from_an_estimator_gets_rgb_frames(synthetic_root):
    """LoadFlow(source=<estimator config>) runs it on the sample's frames as
    RGB (LoadVideoFrames gives BGR) and marks every pixel valid; with a
    synthetic source the mask is the visibility."""
    from mmseg_temporal.datasets.synthetic_flow import SyntheticExactFlow
    from mmseg_temporal.flow.sources.estimator import flow_of_images
    from mmseg_temporal.utils.image import read_rgb
    est = dict(type='DISFlow', preset='ultrafast')
    pipeline = [dict(type='LoadVideoFrames'),
                dict(type='LoadFlow', source=est),
                dict(type='PackVideoSegInputs')]
    ds = DATASETS.build(dict(
        type='SyntheticVideoDataset', data_root=synthetic_root, num_videos=2,
        frames_per_video=12, height=48, width=64, label_start=4,
        label_interval=4, offsets_before=(1, 3), offsets_after=(1, 3),
        sample_policy='fixed', pipeline=pipeline))
    s = ds[0]['data_samples']
    paths = s.img_paths
    ref = flow_of_images(MODELS.build(est), read_rgb(paths[0]),
                         read_rgb(paths[1]))
    assert torch.equal(s.flows[0], torch.from_numpy(ref))
    assert s.flow_valid.all() and s.flow_valid.dtype == torch.bool
    synthetic = triplet_dataset(synthetic_root, [])
    synthetic.sample_policy = 'fixed'
    t = synthetic[0]['data_samples']
    _, vis = SyntheticExactFlow()(t.img_paths[1], t.img_paths[2])
    assert torch.equal(t.flow_valid[1, 0], torch.from_numpy(vis))
    assert not t.flow_valid.all()


def test_load_flow_needs_loaded_frames():
    from mmseg.registry import TRANSFORMS
    load = TRANSFORMS.build(dict(type='LoadFlow',
                                 source=dict(type='SyntheticExactFlow')))
    with pytest.raises(KeyError, match='LoadVideoFrames'):
        load(dict(img_path='x.png'))
