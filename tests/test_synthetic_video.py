"""The procedural video: determinism, exact flow, atomic materialisation,
one folder for any number of videos."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmseg_temporal.datasets.synthetic_video import (
    SyntheticVideoGenerator,
    synthetic_flow_between,
    synthetic_paths,
    write_synthetic_split,
)


def test_deterministic_from_seed():
    a = SyntheticVideoGenerator(seed=3).render(1, 6)
    b = SyntheticVideoGenerator(seed=3).render(1, 6)
    c = SyntheticVideoGenerator(seed=4).render(1, 6)
    assert np.array_equal(a['imgs'], b['imgs'])
    assert np.array_equal(a['labels'], b['labels'])
    assert not np.array_equal(a['imgs'], c['imgs'])


def test_scene_has_several_classes_and_motion():
    v = SyntheticVideoGenerator(seed=0).render(0, 10)
    assert v['imgs'].shape == (10, 96, 128, 3) and v['imgs'].dtype == np.uint8
    assert len(np.unique(v['labels'])) >= 3
    assert not np.array_equal(v['imgs'][0], v['imgs'][9])
    assert (v['velocities'] % 2 == 0).all(), 'speeds must be even'


@pytest.mark.parametrize('i,j', [(4, 5), (9, 2), (0, 9)])
def test_flow_is_exact_where_visible(i, j):
    v = SyntheticVideoGenerator(seed=1).render(2, 10)
    flow, vis = synthetic_flow_between(v['layers'][i], v['layers'][j],
                                       v['velocities'], j - i)
    assert flow.shape == (2, 96, 128) and vis.dtype == bool
    assert 0.2 < vis.mean() < 1.0
    ys, xs = np.mgrid[0:96, 0:128]
    tx = (xs + flow[0]).astype(int)
    ty = (ys + flow[1]).astype(int)
    # Pixels and labels move exactly with the flow where visible.
    assert np.array_equal(v['imgs'][j][ty[vis], tx[vis]], v['imgs'][i][vis])
    assert np.array_equal(v['labels'][j][ty[vis], tx[vis]], v['labels'][i][vis])
    # Invisible pixels are out of frame or land on another layer.
    inside = (tx >= 0) & (tx < 128) & (ty >= 0) & (ty < 96)
    occl = ~vis & inside
    assert (v['layers'][j][ty[occl], tx[occl]] != v['layers'][i][occl]).all()


def test_flow_composition_is_consistent():
    """flow(i->j) = v * (j - i) for every layer: (i->k) = (i->j) + (j->k)
    where the pixel stays on its layer."""
    v = SyntheticVideoGenerator(seed=2).render(0, 8)
    f02, _ = synthetic_flow_between(v['layers'][0], v['layers'][2], v['velocities'], 2)
    f01, _ = synthetic_flow_between(v['layers'][0], v['layers'][1], v['velocities'], 1)
    assert np.array_equal(f02, 2 * f01)


def test_write_split_reuses_and_refuses_other_params(tmp_path):
    gen = SyntheticVideoGenerator(height=32, width=48, seed=0)
    m = write_synthetic_split(str(tmp_path), 'train', gen, 2, 4)
    p = synthetic_paths(str(tmp_path), 'train', 1, 3)
    assert all(osp.exists(p[k]) for k in ('img', 'label', 'layers', 'motion'))
    mtime = os.path.getmtime(p['img'])
    assert write_synthetic_split(str(tmp_path), 'train', gen, 2, 4) == m
    assert os.path.getmtime(p['img']) == mtime, 'an existing split is reused'
    other = SyntheticVideoGenerator(height=32, width=48, seed=1)
    with pytest.raises(ValueError, match=r"differing keys: \['generator'\]"):
        write_synthetic_split(str(tmp_path), 'train', other, 2, 4)
    # No temporary folders are left behind.
    assert [n for n in os.listdir(tmp_path) if n.startswith('.')] == []


def test_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'mine.txt').write_text('precious')
    gen = SyntheticVideoGenerator(height=32, width=48)
    with pytest.raises(ValueError, match='refusing to overwrite'):
        write_synthetic_split(str(tmp_path), 'train', gen, 1, 3)
    assert (tmp_path / 'train' / 'mine.txt').read_text() == 'precious'


def test_too_small_frame_rejected():
    with pytest.raises(ValueError, match='too small'):
        SyntheticVideoGenerator(height=8, width=48)


def video_mtimes(root, split):
    d = osp.join(root, split)
    return {n: os.path.getmtime(osp.join(d, n, '0000_img.png'))
            for n in os.listdir(d) if n.startswith('video_')}


def test_one_folder_serves_any_num_videos(tmp_path):
    """3 videos then 1 then 5 from one folder: fewer are served from what is
    on disk, more render only the missing ones; nothing is re-rendered and
    the manifest records what is on disk."""
    gen = SyntheticVideoGenerator(height=32, width=48, seed=0)
    root = str(tmp_path)
    m3 = write_synthetic_split(root, 'test', gen, 3, 4)
    assert m3['num_videos'] == 3
    first = video_mtimes(root, 'test')
    assert sorted(first) == ['video_000', 'video_001', 'video_002']
    assert write_synthetic_split(root, 'test', gen, 1, 4) == m3
    assert video_mtimes(root, 'test') == first
    m5 = write_synthetic_split(root, 'test', gen, 5, 4)
    assert m5['num_videos'] == 5 and {k: v for k, v in m5.items()
                                      if k != 'num_videos'} == {
        k: v for k, v in m3.items() if k != 'num_videos'}
    now = video_mtimes(root, 'test')
    assert {k: now[k] for k in first} == first and len(now) == 5
    with open(osp.join(root, 'test', 'manifest.json')) as f:
        assert json.load(f)['num_videos'] == 5
    # Rendered in two steps = rendered at once: the same pixels.
    once = str(tmp_path / 'once')
    write_synthetic_split(once, 'test', gen, 5, 4)
    for k in (1, 4):
        for key in ('img', 'layers', 'motion'):
            with open(synthetic_paths(root, 'test', k, 2)[key], 'rb') as a, \
                    open(synthetic_paths(once, 'test', k, 2)[key], 'rb') as b:
                assert a.read() == b.read(), (k, key)
    assert [n for n in os.listdir(osp.join(root, 'test'))
            if '.tmp-' in n] == []


def test_dataset_larger_then_smaller_num_videos(tmp_path):
    """SyntheticVideoDataset on one data_root: 3 videos, then 2 (served,
    not refused), then 4 (only video 3 rendered)."""
    from mmseg.registry import DATASETS

    import mmseg_temporal  # noqa: F401

    def build(n):
        return DATASETS.build(dict(
            type='SyntheticVideoDataset', data_root=str(tmp_path),
            split='val', num_videos=n, frames_per_video=4, height=32,
            width=48, label_start=0, label_interval=1, sample_mode='sequence',
            pipeline=[]))

    assert len(build(3)) == 12
    before = video_mtimes(str(tmp_path), 'val')
    small = build(2)
    assert len(small) == 8
    assert {small.get_data_info(i)['seq_name'] for i in range(8)} == {
        'val/video_000', 'val/video_001'}
    assert len(build(4)) == 16
    after = video_mtimes(str(tmp_path), 'val')
    assert {k: after[k] for k in before} == before and len(after) == 4


def test_a_deleted_video_is_rendered_again(tmp_path):
    gen = SyntheticVideoGenerator(height=32, width=48, seed=0)
    write_synthetic_split(str(tmp_path), 'train', gen, 2, 3)
    p = synthetic_paths(str(tmp_path), 'train', 1, 0)
    with open(p['img'], 'rb') as f:
        img = f.read()
    shutil.rmtree(osp.dirname(p['img']))
    write_synthetic_split(str(tmp_path), 'train', gen, 2, 3)
    with open(p['img'], 'rb') as f:
        assert f.read() == img


def _render_in_child(args):
    root, n = args
    gen = SyntheticVideoGenerator(height=32, width=48, seed=0)
    return write_synthetic_split(root, 'train', gen, n, 3)['num_videos']


def test_processes_rendering_at_once_agree(tmp_path):
    """Four processes ask for the same folder at once (DDP ranks): no
    error, every video complete once, the manifest counts them."""
    import multiprocessing as mp
    ctx = mp.get_context('fork')
    with ctx.Pool(4) as pool:
        got = pool.map(_render_in_child, [(str(tmp_path), n)
                                          for n in (3, 3, 2, 3)])
    assert all(n >= 2 for n in got)
    assert sorted(video_mtimes(str(tmp_path), 'train')) == [
        'video_000', 'video_001', 'video_002']
    with open(osp.join(str(tmp_path), 'train', 'manifest.json')) as f:
        assert json.load(f)['num_videos'] == 3
    for k in range(3):
        for t in range(3):
            assert osp.exists(synthetic_paths(str(tmp_path), 'train', k, t)['layers'])
    assert [n for n in os.listdir(tmp_path) if n.startswith('.')] == []
