"""TemporalConsistencyMetric: regrouping, rank split, outputs, parity with
the functional core."""
import csv
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS, MODELS
from mmseg.structures import SegDataSample

from mmseg_temporal.datasets.synthetic_video import (
    SYNTHETIC_CLASSES,
    SyntheticVideoGenerator,
    synthetic_flow_between,
)
from mmseg_temporal.evaluation import TemporalConsistencyMetric, temporal_consistency
from mmseg_temporal.flow.sources.base import build_flow_source

H, W = 48, 64


@pytest.fixture(scope='module')
def stream(tmp_path_factory):
    """Two synthetic sequences (4 and 3 frames) written as PNGs, noisy
    predictions, exact flows keyed by image path."""
    root = tmp_path_factory.mktemp('frames')
    gen = SyntheticVideoGenerator(height=H, width=W, seed=0)
    rng = np.random.default_rng(0)
    seqs, exact = [], {}
    for vid, n in ((0, 4), (1, 3)):
        v = gen.render(vid, n)
        frames = []
        for t in range(n):
            path = str(root / f'video{vid}_{t:03d}.png')
            cv2.imwrite(path, v['imgs'][t][..., ::-1])
            pred = v['labels'][t].copy()
            flip = rng.random((H, W)) < 0.05
            pred[flip] = rng.integers(0, 5, int(flip.sum()))
            pred[:2, :3] = 255  # a few ignored pixels
            frames.append(dict(path=path, pred=pred, t=t))
        for t in range(n - 1):
            exact[(frames[t]['path'], frames[t + 1]['path'])] = \
                synthetic_flow_between(v['layers'][t], v['layers'][t + 1],
                                       v['velocities'], 1)[0]
        seqs.append((f'video{vid}', frames))
    return seqs, exact


def _samples(seqs, labels=None):
    """SegDataSamples of the frames; ``labels[(name, t)]`` adds a label."""
    out = []
    for name, frames in seqs:
        for fr in frames:
            s = SegDataSample(metainfo=dict(
                seq_name=name, frame_index=fr['t'], img_path=fr['path'],
                ori_shape=(H, W)))
            s.pred_sem_seg = PixelData(
                data=torch.from_numpy(fr['pred'].astype(np.int64))[None])
            if labels is not None and (name, fr['t']) in labels:
                s.gt_sem_seg = PixelData(data=torch.from_numpy(
                    labels[(name, fr['t'])].astype(np.int64))[None])
            out.append(s)
    return out


def _metric(exact, **kwargs):
    m = TemporalConsistencyMetric(
        flow=lambda pa, pb, ia, ib: exact[(pa, pb)], **kwargs)
    m.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    return m


def test_shuffled_two_rank_stream_matches_functional(stream, tmp_path):
    seqs, exact = stream
    samples = _samples(seqs)
    order = np.random.default_rng(1).permutation(len(samples))
    samples = [samples[i] for i in order]
    out_dir = str(tmp_path / 'tc')
    rank0, rank1 = _metric(exact), _metric(exact)
    # rank 0 gets SegDataSamples, rank 1 the dicts mmengine's Evaluator makes
    rank0.process({}, samples[0::2])
    rank1.process({}, [s.to_dict() for s in samples[1::2]])
    # what collect_results hands over, plus a DistributedSampler pad copy
    results = rank0.results + rank1.results + rank0.results[:1]
    metric = _metric(exact, output_dir=out_dir, show_progress=False)
    got = metric.compute_metrics(results)

    ref = temporal_consistency(
        [[f['pred'] for f in frames] for _, frames in seqs],
        [[exact[(a['path'], b['path'])]
          for a, b in zip(frames[:-1], frames[1:])] for _, frames in seqs],
        num_classes=len(SYNTHETIC_CLASSES))
    assert set(got) == {'mTC', 'mTC_seq', 'mTC_pred'}  # no label: no _gt
    assert got['mTC'] == round(ref['mTC'], 2)
    assert got['mTC_seq'] == round(ref['mTC_seq'], 2)
    assert 50 < got['mTC'] < 100
    last = metric.last_result
    assert last['seq_names'] == ['video0', 'video1']
    assert last['frame_indices'] == [[0, 1, 2], [0, 1]]
    assert last['intersect'].tolist() == ref['intersect'].tolist()
    assert last['union'].tolist() == ref['union'].tolist()
    for a, b in zip(last['per_pair'], ref['per_pair']):
        np.testing.assert_array_equal(a, b)

    with open(osp.join(out_dir, 'tc_per_pair.csv')) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['seq_name', 'frame_index', 'tc']
    assert [r[:2] for r in rows[1:]] == [['video0', '0'], ['video0', '1'],
                                         ['video0', '2'], ['video1', '0'],
                                         ['video1', '1']]
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]],
                               np.concatenate(ref['per_pair']), atol=1e-4)
    png = osp.join(out_dir, 'tc_per_pair.png')
    assert osp.getsize(png) > 1000
    assert cv2.imread(png) is not None
    assert osp.exists(osp.join(out_dir, 'tc_per_class.csv'))


def test_registry_evaluate_and_errors(stream):
    seqs, exact = stream
    metric = METRICS.build(dict(
        type='TemporalConsistencyMetric', show_progress=False,
        flow=lambda pa, pb, ia, ib: exact[(pa, pb)]))
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    samples = _samples(seqs)
    metric.process({}, samples)
    res = metric.evaluate(len(samples))  # BaseMetric path, single process
    assert set(res) == {'mTC', 'mTC_seq', 'mTC_pred'}
    assert metric.results == []

    bad = SegDataSample(metainfo=dict(img_path='x.png', frame_index=0))
    bad.pred_sem_seg = PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(KeyError, match="'seq_name'"):
        metric.process({}, [bad])
    metric.process({}, samples[:2])
    clash = dict(metric.results[1], img_path='other.png')
    with pytest.raises(ValueError, match='frame_index 1 appears with two'):
        metric.compute_metrics(metric.results + [clash])
    wrong = _metric({k: v[..., :-1] for k, v in exact.items()},
                    show_progress=False)
    with pytest.raises(ValueError, match=r'shape \(2, 48, 63\)'):
        wrong.compute_metrics(metric.results)


def test_default_flow_estimator(stream):
    import mmseg_temporal.flow  # noqa: F401  (registers DISFlow)
    if 'DISFlow' not in MODELS.module_dict:
        pytest.skip('DISFlow is not registered')
    seqs, _ = stream
    seqs = seqs[1:]  # one 3-frame sequence is enough
    metric = TemporalConsistencyMetric(show_progress=True)
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, _samples(seqs))
    got = metric.compute_metrics(metric.results)
    est = MODELS.build(dict(type='DISFlow'))
    frames = seqs[0][1]

    def rgb(p):
        img = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)
        return torch.from_numpy(img).permute(2, 0, 1)[None].float()

    flows = [est(rgb(a['path']), rgb(b['path']))[0]
             for a, b in zip(frames[:-1], frames[1:])]
    ref = temporal_consistency([[f['pred'] for f in frames]], [flows], 5)
    assert got['mTC'] == round(ref['mTC'], 2)


def test_synthetic_exact_flow_scores_ground_truth_100(tmp_path):
    """With SyntheticExactFlow as the flow provider (the synthetic configs'
    default), ground-truth labels score TC = 100: the metric measures the
    predictions' flicker, not a flow estimator's errors. Flipped pixels
    give the functional core's value with the same exact flow."""
    from mmseg_temporal.datasets.synthetic_video import synthetic_paths, write_synthetic_split
    gen = SyntheticVideoGenerator(height=H, width=W, seed=0)
    write_synthetic_split(str(tmp_path), 'test', gen, 2, 5)
    rng = np.random.default_rng(1)
    seqs, noisy, flows, labels = [], [], [], {}
    for k in range(2):
        frames, preds = [], []
        for t in range(5):
            p = synthetic_paths(str(tmp_path), 'test', k, t)
            label = cv2.imread(p['label'], cv2.IMREAD_UNCHANGED)
            frames.append(dict(path=p['img'], pred=label, t=t))
            labels[(f'video_{k:03d}', t)] = label
            pred = label.copy()
            flip = rng.random((H, W)) < 0.1
            pred[flip] = rng.integers(0, 5, int(flip.sum()))
            preds.append(pred)
        seqs.append((f'video_{k:03d}', frames))
        noisy.append((f'video_{k:03d}', [dict(f, pred=q)
                                         for f, q in zip(frames, preds)]))
        flows.append([
            build_flow_source(dict(type='SyntheticExactFlow'))(
                frames[t]['path'], frames[t + 1]['path']) for t in range(4)])
    metric = METRICS.build(dict(type='TemporalConsistencyMetric',
                                flow=dict(type='SyntheticExactFlow'),
                                show_progress=False))
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, _samples(seqs, labels))
    assert metric.evaluate(10) == dict(mTC=100.0, mTC_seq=100.0,
                                       mTC_pred=100.0, mTC_gt=100.0)

    metric.process({}, _samples(noisy, labels))
    got = metric.evaluate(10)
    ref = temporal_consistency(
        [[f['pred'] for f in fr] for _, fr in noisy],
        [[f for f, _ in seq] for seq in flows], num_classes=5,
        valids=[[v for _, v in seq] for seq in flows],
        classes=sorted({c for lab in labels.values() for c in np.unique(lab)}))
    assert got['mTC'] == pytest.approx(round(ref['mTC'], 2))
    assert got['mTC'] < 90 and got['mTC_gt'] == 100.0


def test_synthetic_exact_flow_refuses_what_it_cannot_serve(tmp_path):
    from mmseg_temporal.datasets.synthetic_video import synthetic_paths, write_synthetic_split
    gen = SyntheticVideoGenerator(height=H, width=W, seed=0)
    write_synthetic_split(str(tmp_path), 'test', gen, 2, 3)
    p = lambda k, t: synthetic_paths(str(tmp_path), 'test', k, t)['img']  # noqa
    source = build_flow_source(dict(type='SyntheticExactFlow'))
    flow, valid = source(p(0, 0), p(0, 2))
    assert flow.shape == (2, H, W) and valid.shape == (H, W)
    with pytest.raises(ValueError, match='different synthetic videos'):
        source(p(0, 0), p(1, 1))
    with pytest.raises(ValueError, match='native 64x48'):
        source(p(0, 0), p(0, 1), np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(ValueError, match='not a synthetic-video frame'):
        source(str(tmp_path / 'x.png'), p(0, 1))
    missing = p(0, 1).replace('0001_img', '0009_img')
    with pytest.raises(FileNotFoundError, match='0009_layers.png'):
        source(p(0, 0), missing)


# ---------------------------------------------------------------------------
# Class set, mTC_pred, mTC_gt, the flow argument (issue 11)
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def labelled_video(tmp_path_factory):
    """One 6-frame synthetic sequence on disk: labels, exact flows and
    visibility keyed by image path, and two models: A = the labels with
    the smallest class flickering, B = A never predicting that class."""
    root = tmp_path_factory.mktemp('labelled')
    v = SyntheticVideoGenerator(height=H, width=W, seed=0).render(0, 6)
    paths = []
    for t, img in enumerate(v['imgs']):
        paths.append(str(root / f'frame_{t:03d}.png'))
        cv2.imwrite(paths[-1], img[..., ::-1])
    exact = {(paths[t], paths[t + 1]): synthetic_flow_between(
        v['layers'][t], v['layers'][t + 1], v['velocities'], 1)
        for t in range(5)}
    labels = list(v['labels'])
    counts = np.bincount(np.concatenate([g.ravel() for g in labels]),
                         minlength=5)
    present = np.flatnonzero(counts)
    hard, big = present[np.argmin(counts[present])], int(np.argmax(counts))
    rng = np.random.default_rng(0)
    model_a = []
    for g in labels:
        a = g.copy()
        a[(g == hard) & (rng.random(g.shape) < 0.6)] = big
        model_a.append(a)
    model_b = [np.where(a == hard, big, a) for a in model_a]
    return dict(paths=paths, exact=exact, labels=labels, a=model_a,
                b=model_b, hard=int(hard))


def _score(video, preds, with_labels=True, **kwargs):
    frames = [dict(path=p, pred=q, t=t)
              for t, (p, q) in enumerate(zip(video['paths'], preds))]
    labels = ({('clip', t): g for t, g in enumerate(video['labels'])}
              if with_labels else None)
    kwargs.setdefault('flow', lambda pa, pb, ia, ib: video['exact'][(pa, pb)])
    metric = TemporalConsistencyMetric(show_progress=False, **kwargs)
    metric.dataset_meta = dict(classes=SYNTHETIC_CLASSES)
    metric.process({}, _samples([('clip', frames)], labels))
    return metric.evaluate(len(frames)), metric.last_result


def test_model_never_predicting_a_class_scores_lower(labelled_video):
    """B equals A except that it never predicts one class: under the
    default class set (the classes of the ground truth) its mTC is lower."""
    v = labelled_video
    got_a, res_a = _score(v, v['a'])
    got_b, res_b = _score(v, v['b'])
    gt_classes = np.unique(np.concatenate([g.ravel() for g in v['labels']]))
    assert res_b['classes'].tolist() == gt_classes.tolist()
    assert 'ground truth of the scored sequences' in res_b['class_set']
    assert res_b['per_class'][v['hard']] == 0.0
    assert got_b['mTC'] < got_a['mTC']
    assert got_b['mTC_seq'] < got_a['mTC_seq']
    assert v['hard'] not in res_b['predicted_classes'].tolist()
    # mTC_pred: B over what it predicts
    kept = [c for c in gt_classes if c != v['hard']]
    assert got_b['mTC_pred'] == pytest.approx(
        np.mean(res_b['per_class'][kept]), abs=0.006)
    # the functional core with the same class set and masks agrees
    flows = [v['exact'][(a, b)] for a, b in zip(v['paths'][:-1],
                                                v['paths'][1:])]
    ref = temporal_consistency([v['b']], [[f for f, _ in flows]], 5,
                               valids=[[m for _, m in flows]],
                               classes=gt_classes)
    assert got_b['mTC'] == round(ref['mTC'], 2)
    # ground truth under the same flow and masks: exact flow, 100
    assert got_a['mTC_gt'] == got_b['mTC_gt'] == 100.0


def test_class_set_given_or_all_classes(labelled_video):
    v = labelled_video
    got, res = _score(v, v['b'], classes=['sky', 'ground', 'vehicle'])
    assert res['classes'].tolist() == [0, 1, 2]
    assert res['class_set'] == 'the 3 given classes'
    assert np.isnan(res['per_class'][3:]).all()
    _, res = _score(v, v['b'], with_labels=False)
    assert res['classes'].tolist() == list(range(5))
    assert res['class_set'].startswith('all 5 dataset classes')
    assert res['gt'] is None
    with pytest.raises(ValueError, match="'tree'"):
        _score(v, v['b'], classes=['tree'])
    with pytest.raises(ValueError, match=r'outside \[0, 5\): \[7\]'):
        _score(v, v['b'], classes=[0, 7])


def test_flow_argument(labelled_video):
    v = labelled_video
    source = lambda pa, pb, ia, ib: v['exact'][(pa, pb)]  # noqa: E731
    assert TemporalConsistencyMetric(flow=source).flow_cfg is source
    with pytest.raises(ValueError, match='needs `flow`'):
        TemporalConsistencyMetric(flow=None)
    with pytest.raises(TypeError, match='flow_provider'):  # removed in 0.2.0
        TemporalConsistencyMetric(flow_provider=source)


def test_sequence_metrics_have_no_collect_device():
    """Records reach every rank by one all_gather_object; an option that
    would be ignored is refused, naming it."""
    from mmseg_temporal.evaluation import VideoConsistencyMetric
    for cls in (TemporalConsistencyMetric, VideoConsistencyMetric):
        with pytest.raises(TypeError, match='collect_device'):
            cls(collect_device='gpu')


def test_forward_backward_check_option(labelled_video):
    """fb_check=True scores only the pixels passing the forward-backward
    check of the flow source: the functional value with those masks."""
    v = labelled_video
    got, res = _score(v, v['a'], flow=dict(type='DISFlow'), fb_check=True)
    checked = build_flow_source(dict(type='ForwardBackwardChecked',
                                     source=dict(type='DISFlow')))
    pairs = [checked(a, b) for a, b in zip(v['paths'][:-1], v['paths'][1:])]
    classes = np.unique(np.concatenate([g.ravel() for g in v['labels']]))
    ref = temporal_consistency([v['a']], [[f for f, _ in pairs]], 5,
                               valids=[[m for _, m in pairs]],
                               classes=classes)
    ref_gt = temporal_consistency([v['labels']], [[f for f, _ in pairs]], 5,
                                  valids=[[m for _, m in pairs]],
                                  classes=classes)
    assert got['mTC'] == round(ref['mTC'], 2)
    assert got['mTC_gt'] == round(ref_gt['mTC'], 2)
    assert all(0 < m.mean() < 1 for _, m in pairs)  # some pixels left out
    unmasked, _ = _score(v, v['a'], flow=dict(type='DISFlow'))
    assert unmasked['mTC_gt'] < got['mTC_gt']


def test_run_on_every_rank_in_one_process():
    """One process: a plain call, the exception keeps its type."""
    from mmseg_temporal.evaluation.distributed import run_on_every_rank
    assert run_on_every_rank('m', lambda a, b: a + b, 1, 2) == 3
    assert run_on_every_rank('m', lambda: 3, gather=True) == [3]
    with pytest.raises(KeyError, match='nope'):
        run_on_every_rank('m', {}.__getitem__, 'nope')
