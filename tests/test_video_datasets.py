"""Video datasets: triplets, sequences, CamVid/Cityscapes layouts, bad input."""
import os
import os.path as osp
import random

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401


def synthetic(root, **kw):
    cfg = dict(type='SyntheticVideoDataset', data_root=root, num_videos=2,
               frames_per_video=12, height=48, width=64, label_start=4,
               label_interval=4, offsets_before=(1, 3), offsets_after=(1, 3),
               pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_synthetic_triplets_random_policy(synthetic_root):
    ds = synthetic(synthetic_root)
    # labelled frames 4 and 8 of 2 videos
    assert len(ds) == 4
    random.seed(0)
    seen = set()
    for _ in range(60):
        info = ds.draw_frames(ds.get_data_info(0))
        f, lab, b = info['frame_ids']
        assert info['label_index'] == 1 and lab == 4
        assert 1 <= lab - f <= 3 and 1 <= b - lab <= 3
        assert info['img_paths'][1] == info['img_path']
        seen.add((lab - f, b - lab))
    assert len(seen) == 9, 'every offset pair of the ranges is drawn'
    fixed = synthetic(synthetic_root, sample_policy='fixed')
    assert fixed.draw_frames(fixed.get_data_info(0))['frame_ids'] == [3, 4, 5]


def test_synthetic_sequence_and_labelled_modes(synthetic_root):
    seq = synthetic(synthetic_root, sample_mode='sequence', split='val')
    assert len(seq) == 2 * 12
    infos = [seq.get_data_info(i) for i in range(len(seq))]
    assert [i['frame_index'] for i in infos[:12]] == list(range(12))
    assert len({i['seq_name'] for i in infos}) == 2
    lab = synthetic(synthetic_root, sample_mode='labelled', split='val')
    assert len(lab) == 4
    assert all(lab.get_data_info(i)['seg_map_path'] for i in range(4))


def test_flow_pairs_cover_all_offsets(synthetic_root):
    ds = synthetic(synthetic_root)
    pairs = ds.flow_pairs()
    # 4 labelled frames x (3 before + 3 after) pairs, all distinct here
    assert len(pairs) == 24
    assert all(p[0] != p[1] for p in pairs)


def test_sequence_too_short_is_an_error(synthetic_root):
    with pytest.raises(ValueError, match=r'shorter than the requested offsets'
                       r'.*needs 5 frames before and 3 after, has 4 before'):
        synthetic(synthetic_root, offsets_before=(1, 5))
    ds = synthetic(synthetic_root, offsets_before=(1, 5), edge_policy='clamp')
    assert len(ds) == 4  # frame 4 keeps offsets 1..4, frame 8 all of 1..5
    assert ds.get_data_info(0)['candidates_before'] == [1, 2, 3, 4]
    ds = synthetic(synthetic_root, offsets_before=(1, 5), edge_policy='skip')
    assert len(ds) == 2  # only the labelled frames 8 keep the full range


def test_bad_offsets_rejected(synthetic_root):
    with pytest.raises(ValueError, match='offsets_after'):
        synthetic(synthetic_root, offsets_after=(0, 2))


# ---------------------------------------------------------------- CamVid
def camvid(root, split='train', **kw):
    cfg = dict(type='CamVidVideoDataset', data_root=str(root),
               data_prefix=dict(img_path=split, seg_map_path=split + 'annot'),
               edge_policy='skip', offsets_before=(1, 1), offsets_after=(1, 1),
               pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_camvid_triplet_is_one_sequence_in_time_order(camvid_root):
    ds = camvid(camvid_root)
    for idx in (0, 50, len(ds) - 1):
        info = ds.draw_frames(ds.get_data_info(idx))
        names = [osp.basename(p) for p in info['img_paths']]
        seqs = {n.rsplit('_', 1)[0] for n in names}
        assert len(seqs) == 1, names
        ids = info['frame_ids']
        assert ids[0] < ids[1] < ids[2], names
        assert ids[2] - ids[0] <= 62  # neighbours are labelled frames ~1 s apart
    # Sequences split at gaps: 3 train videos, 0016E5 in three runs
    names = {ds.get_data_info(i)['seq_name'] for i in range(len(ds))}
    assert sum(n.startswith('0016E5@') for n in names) == 3


def test_camvid_void_maps_to_ignore(camvid_root):
    from mmseg.datasets.transforms import LoadAnnotations
    ds = camvid(camvid_root, sample_mode='labelled')
    assert ds.label_map[11] == 255
    info = ds.get_data_info(0)
    raw = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    out = LoadAnnotations()(info)['gt_seg_map']
    assert (raw == 11).any()
    assert (out[raw == 11] == 255).all() and (out[raw != 11] == raw[raw != 11]).all()


def test_camvid_seq05vd_sequence_mode(camvid_root):
    ds = camvid(camvid_root, split='test', sample_mode='sequence')
    seq = [ds.get_data_info(i) for i in range(len(ds))
           if ds.get_data_info(i)['seq_name'].startswith('Seq05VD')]
    assert len(seq) == 171
    assert [s['frame_index'] for s in seq] == list(range(171))
    assert [s['frame_id'] for s in seq] == sorted(s['frame_id'] for s in seq)


def _write_png(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, arr)


def make_camvid(root, n=4, label_hw=(24, 32)):
    rng = np.random.default_rng(0)
    for k in range(n):
        _write_png(f'{root}/train/seqA_{30 * k:06d}.png',
                   rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        _write_png(f'{root}/trainannot/seqA_{30 * k:06d}.png',
                   rng.integers(0, 12, label_hw, dtype=np.uint8))


def test_camvid_label_of_wrong_size(tmp_path):
    make_camvid(tmp_path, label_hw=(20, 32))
    with pytest.raises(ValueError, match=r'trainannot/seqA_000000.png is '
                       r'32x20 .* its image .*seqA_000000.png is 32x24'):
        camvid(tmp_path)


def test_camvid_missing_label_and_empty_split(tmp_path):
    make_camvid(tmp_path)
    os.remove(f'{tmp_path}/trainannot/seqA_000030.png')
    with pytest.raises(FileNotFoundError, match='seqA_000030.png'):
        camvid(tmp_path)
    os.makedirs(tmp_path / 'val')
    with pytest.raises(ValueError, match='the split is empty'):
        camvid(tmp_path, split='val')


def test_camvid_raw_frame_layout(tmp_path):
    make_camvid(tmp_path, n=2)  # labelled frames 0 and 30
    rng = np.random.default_rng(1)
    for fid in (1, 2, 3, 27, 28, 29, 31, 32, 33):
        _write_png(f'{tmp_path}/raw/seqA_{fid:05d}.png',
                   rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    kw = dict(raw_frame_dir='raw', snippet_before=3, snippet_after=3)
    ds = camvid(tmp_path, offsets_before=(1, 3), offsets_after=(1, 3), **kw)
    assert len(ds) == 1  # frame 0 has no raw frame before it: skipped
    for _ in range(10):
        info = ds.draw_frames(ds.get_data_info(0))
        f, lab, b = info['frame_ids']
        assert lab == 30 and 27 <= f < 30 < b <= 33
    seq = camvid(tmp_path, sample_mode='sequence', **kw)
    assert [seq.get_data_info(i)['frame_id'] for i in range(len(seq))] == \
        [0, 1, 2, 3, 27, 28, 29, 30, 31, 32, 33]
    with pytest.raises(ValueError, match='no labelled frame with the requested'):
        camvid(tmp_path, raw_frame_dir='raw', snippet_before=0,
               snippet_after=3, offsets_before=(1, 1), offsets_after=(1, 1))
    os.remove(f'{tmp_path}/raw/seqA_00032.png')
    with pytest.raises(FileNotFoundError, match=r'raw/seqA_00032.png'):
        camvid(tmp_path, sample_mode='sequence', **kw)


# ------------------------------------------------------------ Cityscapes
def make_cityscapes(root, labelled=(19, 49), snippet=(19, 10), hw=(16, 32)):
    rng = np.random.default_rng(0)
    for n in labelled:
        for fid in range(n - snippet[0], n + snippet[1] + 1):
            _write_png(f'{root}/leftImg8bit_sequence/train/aachen/'
                       f'aachen_000001_{fid:06d}_leftImg8bit.png',
                       rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
        _write_png(f'{root}/gtFine/train/aachen/aachen_000001_{n:06d}'
                   '_gtFine_labelTrainIds.png',
                   rng.integers(0, 19, hw, dtype=np.uint8))


def cityscapes(root, **kw):
    cfg = dict(type='CityscapesVideoDataset', data_root=str(root),
               offsets_before=(1, 19), offsets_after=(1, 10), pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_cityscapes_triplets_inside_snippet(tmp_path):
    make_cityscapes(tmp_path)
    ds = cityscapes(tmp_path)
    assert len(ds) == 2
    for _ in range(20):
        info = ds.draw_frames(ds.get_data_info(1))
        f, lab, b = info['frame_ids']
        assert lab == 49 and 30 <= f < 49 < b <= 59
        assert all('aachen_000001_' in p for p in info['img_paths'])
    seq = cityscapes(tmp_path, sample_mode='sequence')
    assert len(seq) == 60


def test_cityscapes_missing_frame_named(tmp_path):
    make_cityscapes(tmp_path)
    os.remove(f'{tmp_path}/leftImg8bit_sequence/train/aachen/'
              'aachen_000001_000040_leftImg8bit.png')
    with pytest.raises(FileNotFoundError,
                       match=r'aachen_000001_000040_leftImg8bit.png .*'
                       r'snippet of labelled frame aachen_000001_000049'):
        cityscapes(tmp_path)


def test_cityscapes_offsets_beyond_snippet(tmp_path):
    make_cityscapes(tmp_path)
    with pytest.raises(ValueError, match='aachen_000001_000019.*11 after, '
                       'has 19 before and 10 after'):
        cityscapes(tmp_path, offsets_after=(1, 11))


def test_sequence_selection(camvid_root, tmp_path):
    ds = camvid(camvid_root, split='test', sample_mode='sequence',
                sequence_prefixes=['Seq05VD'])
    names = {ds.get_data_info(i)['seq_name'] for i in range(len(ds))}
    assert len(ds) == 171 and all(n.startswith('Seq05VD') for n in names)
    with pytest.raises(ValueError, match=r"no sequence name starts with \['nope'\]"):
        camvid(camvid_root, split='test', sample_mode='sequence',
               sequence_prefixes=['nope'])
    make_cityscapes(tmp_path, labelled=(19, 49, 79, 109))
    a = cityscapes(tmp_path, sample_mode='sequence', num_sequences=2)
    b = cityscapes(tmp_path, sample_mode='sequence', num_sequences=2)
    seqs = lambda d: sorted({d.get_data_info(i)['seq_name'] for i in range(len(d))})  # noqa: E731
    assert len(a) == 60 and seqs(a) == seqs(b), 'the sample is deterministic'
    assert any(seqs(cityscapes(tmp_path, sample_mode='sequence', num_sequences=2,
                               sequence_seed=s)) != seqs(a) for s in range(1, 6))


def test_pack_sequence_seg_inputs_adds_sequence_keys(synthetic_root):
    """PackSequenceSegInputs = PackSegInputs + seq_name and frame_index in
    the metainfo (what TemporalConsistencyMetric regroups by), given or not
    among meta_keys, + the synthetic frame's object_speed, and the same
    image tensor as PackSegInputs."""
    from mmseg.datasets.transforms import PackSegInputs

    from mmseg_temporal.datasets.transforms import PackSequenceSegInputs
    load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotationsIfAny')]
    seq = synthetic(synthetic_root, sample_mode='sequence', split='val',
                    pipeline=load + [dict(type='PackSequenceSegInputs')])
    plain = synthetic(synthetic_root, sample_mode='sequence', split='val',
                      pipeline=load + [dict(type='PackSegInputs')])
    info = seq.get_data_info(13)
    out, ref = seq[13], plain[13]
    meta = out['data_samples'].metainfo
    assert meta['seq_name'] == info['seq_name']
    assert meta['frame_index'] == info['frame_index'] == 1
    assert 'seq_name' not in ref['data_samples'].metainfo
    assert set(meta) == set(ref['data_samples'].metainfo) | {
        'seq_name', 'frame_index', 'object_speed'}
    assert meta['object_speed'] == info['object_speed']
    assert (out['inputs'] == ref['inputs']).all()
    keys = PackSequenceSegInputs(meta_keys=('img_path', 'seq_name')).meta_keys
    assert keys == ('img_path', 'seq_name', 'frame_index', 'object_speed')
    assert issubclass(PackSequenceSegInputs, PackSegInputs)
