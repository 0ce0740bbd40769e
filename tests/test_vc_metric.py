"""VideoConsistencyMetric: regrouping of shuffled frames, parity with the
functional core, runs of labelled frames, and one stock Evaluator with
SparseIoUMetric and TemporalConsistencyMetric over the same samples."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmseg_temporal.datasets.synthetic_video import (
    SYNTHETIC_CLASSES,
    SyntheticVideoGenerator,
    synthetic_flow_between,
)
from mmseg_temporal.evaluation import VideoConsistencyMetric, video_consistency

H, W = 48, 64


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """Two labelled synthetic clips (20 and 12 frames) on disk with noisy
    predictions, and their exact flows keyed by image path."""
    root = tmp_path_factory.mktemp('vc')
    gen = SyntheticVideoGenerator(height=H, width=W, seed=0)
    rng = np.random.default_rng(0)
    out, exact = [], {}
    for vid, n in ((0, 20), (1, 12)):
        v = gen.render(vid, n)
        frames = []
        for t in range(n):
            path = str(root / f'v{vid}_{t:03d}.png')
            cv2.imwrite(path, v['imgs'][t][..., ::-1])
            pred = v['labels'][t].copy()
            flip = rng.random((H, W)) < 0.03
            pred[flip] = rng.integers(0, 5, int(flip.sum()))
            frames.append(dict(path=path, pred=pred, label=v['labels'][t],
                               t=t))
            if t:
                exact[(frames[t - 1]['path'], path)] = synthetic_flow_between(
                    v['layers'][t - 1], v['layers'][t], v['velocities'], 1)
        out.append((f'video{vid}', frames))
    return out, exact


def _samples(clips, drop_label=()):
    samples = []
    for name, frames in clips:
        for fr in frames:
            s = SegDataSample(metainfo=dict(seq_name=name, frame_index=fr['t'],
                                            img_path=fr['path']))
            s.pred_sem_seg = PixelData(data=torch.from_numpy(
                fr['pred'].astype(np.int64))[None])
            if (name, fr['t']) not in drop_label:
                s.gt_sem_seg = PixelData(data=torch.from_numpy(
                    fr['label'].astype(np.int64))[None])
            samples.append(s)
    return samples


def test_shuffled_frames_match_the_functional_core(clips):
    seqs, _ = clips
    samples = _samples(seqs)
    order = np.random.default_rng(1).permutation(len(samples))
    metric = METRICS.build(dict(type='VideoConsistencyMetric'))
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, [samples[i] for i in order])
    got = metric.evaluate(len(samples))
    preds = [[f['pred'] for f in fr] for _, fr in seqs]
    labels = [[f['label'] for f in fr] for _, fr in seqs]
    for n in (8, 16):
        ref = video_consistency(preds, labels, n)
        assert got[f'mVC_{n}'] == round(ref['mVC'], 2)
    assert set(got) == {'mVC_8', 'mVC_16'}
    assert metric.last_result[16]['skipped'] == [1]  # 12 frames <= 16
    assert 50 < got['mVC_8'] < 100


def test_unlabelled_frames_cut_runs_and_n_is_configurable(clips):
    seqs, _ = clips
    metric = VideoConsistencyMetric(n=4, prefix='vc')
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, _samples(seqs, drop_label={('video0', 9)}))
    got = metric.evaluate(32)
    name, frames = seqs[0]
    runs = [frames[:9], frames[10:], seqs[1][1]]
    ref = video_consistency([[f['pred'] for f in r] for r in runs],
                            [[f['label'] for f in r] for r in runs], 4)
    assert got == {'vc/mVC_4': round(ref['mVC'], 2)}
    assert metric.last_result[4]['seq_names'] == ['video0', 'video0#1',
                                                  'video1']
    with pytest.raises(ValueError, match='window lengths >= 2'):
        VideoConsistencyMetric(n=(8, 1))


def test_constant_prediction_scores_100(clips):
    seqs, _ = clips
    const = [(name, [dict(f, pred=np.zeros((H, W), np.uint8)) for f in fr])
             for name, fr in seqs]
    metric = VideoConsistencyMetric()
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, _samples(const))
    assert metric.evaluate(32) == dict(mVC_8=100.0, mVC_16=100.0)


def test_one_stock_evaluator_with_miou_and_tc(clips):
    """The three metrics of the temporal test configs over one stream of
    samples, as the stock test loop feeds them."""
    seqs, exact = clips
    evaluator = Evaluator([
        dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
        dict(type='TemporalConsistencyMetric', show_progress=False,
             flow=lambda pa, pb, ia, ib: exact[(pa, pb)]),
        dict(type='VideoConsistencyMetric', n=(8, 16)),
    ])
    evaluator.dataset_meta = dict(classes=SYNTHETIC_CLASSES,
                                  palette=[[0, 0, 0]] * 5)
    samples = _samples(seqs)
    for i in range(0, len(samples), 4):
        evaluator.process([s for s in samples[i:i + 4]], {})
    got = evaluator.evaluate(len(samples))
    for key in ('mIoU', 'mTC', 'mTC_seq', 'mTC_pred', 'mTC_gt', 'mVC_8',
                'mVC_16'):
        assert key in got, key
    assert got['mTC_gt'] == 100.0  # exact flow and visibility
    assert got['mTC'] < 100.0 and got['mVC_8'] < 100.0


def test_tc_and_vc_share_one_frame_store_and_read_no_pixels_they_do_not_need(
        clips, monkeypatch):
    """In one test loop TC and VC encode each frame once (their records hold
    the same arrays), and with a flow source that says it needs no pixels
    no frame image is read from disk; one that needs pixels gets them."""
    import mmseg_temporal.evaluation.metrics.sequence_frames as store
    import mmseg_temporal.evaluation.metrics.temporal_consistency_metric as tcm
    seqs, exact = clips
    encoded, reads, seen_images = [], [], []
    real_record, real_read = store.frame_record, tcm.read_rgb
    monkeypatch.setattr(store, 'frame_record', lambda s, *a, **k: (
        encoded.append(s['img_path']), real_record(s, *a, **k))[1])
    monkeypatch.setattr(tcm, 'read_rgb', lambda *a, **k: (
        reads.append(a[0]), real_read(*a, **k))[1])

    class FileFlow:  # reads its flow from "files": needs no pixels
        needs_pixels = False

        def __call__(self, pa, pb, ia=None, ib=None):
            seen_images.append((ia, ib))
            return exact[(pa, pb)]

    def run(flow):
        evaluator = Evaluator([
            dict(type='TemporalConsistencyMetric', show_progress=False, flow=flow),
            dict(type='VideoConsistencyMetric', n=(8, ))])
        evaluator.dataset_meta = dict(classes=SYNTHETIC_CLASSES, palette=[[0, 0, 0]] * 5)
        samples = _samples(seqs)
        for i in range(0, len(samples), 4):
            evaluator.process(samples[i:i + 4], {})
        tc, vc = evaluator.metrics
        assert all(a['pred_png'] is b['pred_png'] for a, b in zip(tc.results, vc.results))
        assert tc.results[0] is not vc.results[0]  # own dicts, shared arrays
        return evaluator.evaluate(len(samples)), len(samples)

    got, n = run(FileFlow())
    assert len(encoded) == n  # once per frame, not once per metric
    assert reads == [] and seen_images and all(
        ia is None and ib is None for ia, ib in seen_images)
    assert got['mTC_gt'] == 100.0 and 'mVC_8' in got
    assert store._LAST_BATCH['samples'] is None  # released at evaluate
    encoded.clear()
    got_px, _ = run(lambda pa, pb, ia, ib: (seen_images.append((ia, ib)), exact[(pa, pb)])[1])
    assert reads and seen_images[-1][0] is not None  # a plain callable gets pixels
    assert got_px['mTC'] == got['mTC']
