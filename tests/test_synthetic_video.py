"""The procedural video: determinism, exact flow, atomic materialisation."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmseg_temporal.datasets.synthetic_video import (
    SyntheticVideoGenerator, synthetic_flow_between, synthetic_paths,
    write_synthetic_split)


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
