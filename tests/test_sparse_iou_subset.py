"""SparseIoUMetric's frame subset (mIoU on the fast frames) against a naive
reference, and the synthetic video's per-frame ``object_speed`` that picks
those frames."""
import numpy as np
import pytest
import torch

from mmseg_temporal.datasets.synthetic_format import read_layers, read_velocities
from mmseg_temporal.datasets.transforms import PackSequenceSegInputs
from mmseg_temporal.evaluation.metrics import SparseIoUMetric

K = 4


def naive_miou(preds, labels) -> float:
    """Per-class IoU from pooled pixel counts, mean over the classes with a
    non-zero union, in percent (MMSeg's IoUMetric, written out)."""
    ious = []
    for c in range(K):
        inter = sum(int(((p == c) & (lab == c)).sum()) for p, lab in zip(preds, labels))
        union = sum(int(((p == c) | (lab == c)).sum()) for p, lab in zip(preds, labels))
        if union:
            ious.append(inter / union)
    return 100 * float(np.mean(ious))


def samples(preds, labels, speeds):
    return [dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None]),
                 gt_sem_seg=dict(data=torch.from_numpy(lab)[None]),
                 object_speed=s, img_path=f'frame_{i}.png')
            for i, (p, lab, s) in enumerate(zip(preds, labels, speeds))]


def test_fast_frames_miou_matches_a_naive_reference():
    rng = np.random.default_rng(0)
    n = 12
    labels = [rng.integers(0, K, (8, 10)) for _ in range(n)]
    # fast frames get worse predictions, so the two means differ
    speeds = rng.uniform(0, 8, n)
    preds = [np.where(rng.random((8, 10)) < (0.9 if s < 4 else 0.5), lab,
                      rng.integers(0, K, (8, 10))) for lab, s in zip(labels, speeds)]
    metric = SparseIoUMetric(iou_metrics=['mIoU'],
                             subset=dict(key='object_speed', quantile=0.75, name='fast'))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(K)])
    batch = samples(preds, labels, speeds)
    for i in range(0, n, 5):
        metric.process({}, batch[i:i + 5])
    got = metric.evaluate(n)
    threshold = np.percentile(speeds, 75)
    fast = [i for i in range(n) if speeds[i] >= threshold]
    assert got['fast_threshold'] == pytest.approx(threshold)
    assert got['fast_frames'] == len(fast) == 3
    assert got['mIoU'] == pytest.approx(naive_miou(preds, labels), abs=0.006)
    assert got['mIoU_fast'] == pytest.approx(
        naive_miou([preds[i] for i in fast], [labels[i] for i in fast]), abs=0.006)
    assert got['mIoU_fast'] < got['mIoU'] - 5


def test_without_subset_it_is_iou_metric_and_a_missing_key_is_named():
    labels = [np.zeros((4, 4), np.int64), np.ones((4, 4), np.int64)]
    plain = SparseIoUMetric(iou_metrics=['mIoU'])
    plain.dataset_meta = dict(classes=[f'c{i}' for i in range(K)])
    plain.process({}, samples(labels, labels, [1.0, 2.0]))
    got = plain.evaluate(2)
    assert got['mIoU'] == 100.0 and not any('subset' in k or 'fast' in k for k in got)
    metric = SparseIoUMetric(subset=dict(key='object_speed'))
    metric.dataset_meta = plain.dataset_meta
    batch = samples(labels, labels, [1.0, 2.0])
    del batch[1]['object_speed']
    with pytest.raises(KeyError, match="frame_1.png has no metainfo 'object_speed'"):
        metric.process({}, batch)


def test_a_frame_without_a_finite_value_is_named():
    labels = [np.zeros((4, 4), np.int64)]
    metric = SparseIoUMetric(subset=dict(key='object_speed'))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(K)])
    with pytest.raises(ValueError, match='frame_0.png has object_speed=nan'):
        metric.process({}, samples(labels, labels, [float('nan')]))
    with pytest.raises(ValueError, match='format_only'):
        SparseIoUMetric(subset=dict(key='object_speed'), format_only=True,
                        output_dir='/tmp')


@pytest.mark.parametrize('subset, word', [(dict(quantile=0.5), 'key'),
                                          (dict(key='s', share=0.5), 'share'),
                                          (dict(key='s', quantile=1.5), '1.5')])
def test_bad_subset_options_are_named(subset, word):
    with pytest.raises(ValueError, match=word):
        SparseIoUMetric(subset=subset)


def test_synthetic_frames_carry_their_fastest_visible_object_speed(tmp_path):
    """Each frame's ``object_speed`` is the largest |velocity| among the
    layers (objects, not the background) with >= 20 pixels in its layer
    map, and the sequence packer puts it in the sample's metainfo."""
    from mmseg.registry import DATASETS
    ds = DATASETS.build(dict(type='SyntheticVideoDataset', data_root=str(tmp_path),
                             split='test', num_videos=2, frames_per_video=6,
                             sample_mode='sequence', pipeline=[]))
    speeds = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        layers = read_layers(info['img_path'].replace('_img.png', '_layers.png'))
        motion = info['img_path'].rsplit('/', 1)[0] + '/motion.json'
        speed = np.linalg.norm(read_velocities(motion), axis=1)
        ids, counts = np.unique(layers, return_counts=True)
        expected = max([speed[j] for j, c in zip(ids, counts) if j > 0 and c >= 20],
                       default=0.0)
        assert info['object_speed'] == pytest.approx(expected)
        speeds.append(info['object_speed'])
    assert max(speeds) > 0
    packed = PackSequenceSegInputs()(dict(
        img=np.zeros((4, 4, 3), np.uint8), seq_name='v', frame_index=0,
        object_speed=speeds[0]))
    assert packed['data_samples'].object_speed == speeds[0]
