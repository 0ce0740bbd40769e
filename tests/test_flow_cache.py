"""The flow cache: FlowCache, tools/precompute_flow.py (verify, repair),
LoadPrecomputedFlow.

float16 storage: a float16 keeps 11 significant bits (10 stored + the
implicit one) and rounds to nearest, so a stored value ``x`` comes back with
``|error| <= |x| * 2**-11`` (plus at most ``2**-25`` for ``|x| < 2**-14``,
float16's subnormals); over a flow field the error is thus at most
``max|flow| * 2**-11`` (0.03 px at 64 px, 0.25 px at 512 px). Small
integers (the synthetic video's exact flows are even integers) are exact.
"""
import importlib.util
import json
import os
import os.path as osp
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.datasets.synthetic_flow import SyntheticExactFlow
from mmseg_temporal.flow.sources.estimator import flow_of_images
from mmseg_temporal.flow.sources.flow_cache import FlowCache, FlowCacheError
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.image import read_rgb

ROOT = Path(__file__).resolve().parents[1]
BASE_CFG = ROOT / 'configs' / '_base_' / 'datasets' / 'synthetic_video.py'
# The synthetic split of tests/test_video_transforms.py (same parameters, so
# the session's `synthetic_root` is rendered once and shared): 2 videos of
# 12 frames, 48x64, labelled frames 4 and 8, offsets 1..3 on each side:
# 2 * 2 * 6 = 24 flow pairs.
SYNTH = dict(num_videos=2, frames_per_video=12, height=48, width=64, nuisance=None,
             label_start=4, label_interval=4, offsets_before=(1, 3),
             offsets_after=(1, 3))
NUM_PAIRS = 24
ULTRAFAST = dict(type='DISFlow', preset='ultrafast')
F16_REL = 2.0**-11  # float16 relative rounding error bound


def load_tool():
    """tools/precompute_flow.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        'precompute_flow', ROOT / 'tools' / 'precompute_flow.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_dataset(root, pipeline, **kwargs):
    """The shared small synthetic split in triplet mode."""
    return DATASETS.build(dict(type='SyntheticVideoDataset', data_root=root,
                               pipeline=pipeline, **SYNTH, **kwargs))


def cached_pipeline(cache_dir, root, geometric=(), **flow_kwargs):
    """Triplet pipeline with flows served from the cache."""
    return [dict(type='LoadVideoFrames'), dict(type='LoadVideoAnnotations'),
            dict(type='LoadPrecomputedFlow', cache_dir=str(cache_dir),
                 data_root=root, **flow_kwargs),
            *geometric, dict(type='PackVideoSegInputs')]


def entries(cache_dir):
    """{path: mtime_ns} of the .npy entries of a cache folder."""
    out = {}
    for d, _, files in os.walk(cache_dir):
        for f in files:
            if f.endswith('.npy') and not f.startswith('.'):
                p = osp.join(d, f)
                out[p] = os.stat(p).st_mtime_ns
    return out


def frame_files(folder, *names):
    """Small frame files (the cache keys pairs by their size and mtime)."""
    os.makedirs(folder, exist_ok=True)
    for n in names:
        (Path(folder) / n).write_bytes(b'frame ' + n.encode())
    return [str(Path(folder) / n) for n in names]


def temporary_files(cache_dir):
    return [f for _, _, files in os.walk(cache_dir) for f in files
            if '.tmp-' in f]


def precompute_config(tmp_path, root):
    """A config inheriting the synthetic base config, on the small split."""
    cfg = tmp_path / 'synthetic_small.py'
    cfg.write_text(f'_base_ = [{str(BASE_CFG)!r}]\n'
                   f'train_dataloader = dict(dataset=dict(data_root={root!r}, '
                   + ', '.join(f'{k}={v!r}' for k, v in SYNTH.items()) + '))\n')
    return str(cfg)


def run_tool(cfg, out, estimator=ULTRAFAST, *extra):
    return load_tool().main([cfg, '--out', str(out), '--estimator',
                             json.dumps(estimator), '--device', 'cpu', *extra])


@pytest.fixture(scope='module')
def dis_cache(synthetic_root, tmp_path_factory):
    """A DIS (ultrafast) cache of the small split made by the tool, with the
    tool's result of the first run and the config."""
    tmp = tmp_path_factory.mktemp('dis_cache')
    cfg = precompute_config(tmp, synthetic_root)
    out = tmp / 'cache'
    first = run_tool(cfg, out)
    return dict(dir=str(out), first=first, cfg=cfg, root=synthetic_root)


# ----------------------------------------------------------------------
# FlowCache
# ----------------------------------------------------------------------
def test_round_trip_float16_error_bound(tmp_path):
    """Written then read: float32 of the stored float16, within the float16
    bound ``|err| <= |x| 2^-11`` per value (so ``<= max|flow| 2^-11``),
    stored as float16 (half of float32 on disk)."""
    rng = np.random.default_rng(0)
    flow = (rng.normal(scale=20, size=(2, 30, 40))).astype(np.float32)
    flow[0, 0, 0], flow[1, 0, 1] = 500.3, -0.001
    cache = FlowCache(str(tmp_path / 'c'), data_root=str(tmp_path))
    a, b = frame_files(tmp_path / 'v', 'a.png', 'b.png')
    assert not cache.has(a, b)
    cache.write(a, b, flow)
    assert cache.has(a, b)
    stored = np.load(cache.path(a, b))
    assert stored.dtype == np.float16 and stored.shape == (2, 30, 40)
    assert os.path.getsize(cache.path(a, b)) == 128 + flow.size * 2
    back = cache.read(a, b, shape=(30, 40))
    assert back.dtype == np.float32 and back.shape == (2, 30, 40)
    err = np.abs(back - flow)
    assert (err <= np.abs(flow) * F16_REL + 2.0**-25).all()
    assert err.max() <= np.abs(flow).max() * F16_REL
    assert err.max() > 0  # lossy indeed: the bound is the real one
    # small even integers (exact synthetic flows) are stored exactly
    ints = rng.integers(-12, 13, size=(2, 30, 40)).astype(np.float32) * 2
    cache.write(a, b, ints)
    assert np.array_equal(cache.read(a, b), ints)
    with pytest.raises(ValueError, match=r'\(2, H, W\)'):
        cache.write(a, b, ints[0])


def test_shape_check_names_entry(tmp_path):
    cache = FlowCache(str(tmp_path / 'c'))
    a, b = frame_files(tmp_path / 'd', 'a.png', 'b.png')
    cache.write(a, b, np.zeros((2, 6, 8), np.float32))
    with pytest.raises(FlowCacheError, match=re.escape(f'{a} -> {b}') + '.*'
                       r'expected float16 \(2, 6, 9\)'):
        cache.read(a, b, shape=(6, 9))
    assert cache.read(a, b, shape=(6, 8)).shape == (2, 6, 8)


def test_missing_entry_names_both_frames(tmp_path):
    cache = FlowCache(str(tmp_path / 'c'), data_root=str(tmp_path))
    a, b = frame_files(tmp_path / 'seq', '0001.png', '0002.png')
    with pytest.raises(FlowCacheError) as e:
        cache.read(a, b)
    msg = str(e.value)
    assert a in msg and b in msg and 'no entry' in msg
    assert cache.path(a, b) in msg and 'precompute_flow' in msg


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'empty', 'npz'])
def test_corrupt_entry_names_pair_and_file(tmp_path, damage):
    cache = FlowCache(str(tmp_path / 'c'))
    a, b = frame_files(tmp_path / 'data' / 'x', 'f1.png', 'f2.png')
    cache.write(a, b, np.ones((2, 16, 16), np.float32))
    p = cache.path(a, b)
    data = Path(p).read_bytes()
    if damage == 'truncated':
        Path(p).write_bytes(data[:len(data) // 2])
    elif damage == 'garbage':
        Path(p).write_bytes(b'\x00garbage' * 40)
    elif damage == 'empty':
        Path(p).write_bytes(b'')
    else:  # a zip archive where an .npy is expected
        with open(p, 'wb') as f:
            np.savez(f, flow=np.ones((2, 16, 16), np.float16))
    with pytest.raises(FlowCacheError) as e:
        cache.read(a, b)
    msg = str(e.value)
    assert f'{a} -> {b}' in msg and p in msg and 'corrupt' in msg


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf, 1e6])
def test_non_finite_flow_refused_at_write(tmp_path, bad):
    """NaN/Inf, and values beyond float16's range (1e6 would be stored as
    Inf), are refused before anything is written."""
    cache = FlowCache(str(tmp_path / 'c'))
    flow = np.zeros((2, 4, 4), np.float32)
    flow[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r'/d/a\.png -> /d/b\.png'):
        cache.write('/d/a.png', '/d/b.png', flow)
    assert not cache.has('/d/a.png', '/d/b.png')
    assert not entries(tmp_path / 'c') and not temporary_files(tmp_path)


def test_keys_relative_to_data_root(tmp_path, monkeypatch):
    """A moved dataset (another data_root) finds its entries; a relative
    frame path is the same frame as its absolute path."""
    old, new = tmp_path / 'old_root', tmp_path / 'new_root'
    (old / 'seq').mkdir(parents=True)
    for n in ('a.png', 'b.png'):
        (old / 'seq' / n).write_bytes(b'frame')
    flow = np.full((2, 5, 7), 4.0, np.float32)
    c_old = FlowCache(str(tmp_path / 'c'), data_root=str(old))
    c_old.write(str(old / 'seq' / 'a.png'), str(old / 'seq' / 'b.png'), flow)
    shutil.move(str(old), str(new))
    c_new = FlowCache(str(tmp_path / 'c'), data_root=str(new))
    a, b = str(new / 'seq' / 'a.png'), str(new / 'seq' / 'b.png')
    assert c_new.key(a, b) == c_old.key(str(old / 'seq' / 'a.png'),
                                        str(old / 'seq' / 'b.png'))
    assert np.array_equal(c_new.read(a, b), flow)
    monkeypatch.chdir(new)
    assert np.array_equal(c_new.read('seq/a.png', 'seq/b.png'), flow)
    # direction matters; without data_root keys are absolute paths
    assert not c_new.has(b, a)
    assert not FlowCache(str(tmp_path / 'c')).has(a, b)


def test_write_meta_refuses_another_estimator(tmp_path):
    cache = FlowCache(str(tmp_path / 'c'))
    assert cache.read_meta() is None
    est = dict(type='DISFlow', preset='fast', sizes=(1, 2))
    cache.write_meta(dict(estimator=est, dtype='float16'))
    # the same estimator again (a tuple of a config comes back a list)
    cache.write_meta(dict(estimator=dict(est), dtype='float16', run=2))
    with pytest.raises(ValueError, match='another cache folder'):
        cache.write_meta(dict(estimator=dict(type='DISFlow', preset='medium')))
    assert cache.read_meta()['estimator']['preset'] == 'fast'
    assert cache.read_meta()['run'] == 2


# ----------------------------------------------------------------------
# tools/precompute_flow.py
# ----------------------------------------------------------------------
def test_precompute_every_pair_then_reads_cache(dis_cache):
    """The first run computes every pair of dataset.flow_pairs() with DIS;
    a second pass over the same pairs reads the cache (computes 0, rewrites
    nothing)."""
    ds = synthetic_dataset(dis_cache['root'], [])
    pairs = ds.flow_pairs()
    assert len(pairs) == NUM_PAIRS == len(set(pairs))
    assert dis_cache['first'] == dict(pairs=NUM_PAIRS, computed=NUM_PAIRS,
                                     repaired=0, stale=0)
    cache = FlowCache(dis_cache['dir'], ds.data_root)
    for a, b in pairs:
        flow = cache.read(a, b, shape=(48, 64))
        assert np.abs(flow).max() > 0.5  # DIS saw motion
    before = entries(dis_cache['dir'])
    assert len(before) == NUM_PAIRS
    assert cache.read_meta()['estimator'] == ULTRAFAST
    second = run_tool(dis_cache['cfg'], dis_cache['dir'])
    assert second == dict(pairs=NUM_PAIRS, computed=0, repaired=0, stale=0)
    assert entries(dis_cache['dir']) == before  # same files, same mtimes
    assert not temporary_files(dis_cache['dir'])


def test_precompute_resumes_after_kill(dis_cache, tmp_path):
    """Entries removed (a run killed before reaching them) are exactly the
    ones the next run computes; the others are kept as they are."""
    out = tmp_path / 'cache'
    shutil.copytree(dis_cache['dir'], out)
    ds = synthetic_dataset(dis_cache['root'], [])
    cache = FlowCache(str(out), ds.data_root)
    lost = ds.flow_pairs()[5:10]
    kept = {p: cache.read(*p) for p in lost}
    for p in lost:
        os.remove(cache.path(*p))
    survivors = entries(out)
    assert len(survivors) == NUM_PAIRS - 5
    assert run_tool(dis_cache['cfg'], out) == dict(pairs=NUM_PAIRS, computed=5,
                                                  repaired=0, stale=0)
    after = entries(out)
    assert len(after) == NUM_PAIRS
    assert {p: after[p] for p in survivors} == survivors
    for p in lost:  # DIS is deterministic: the same flows again
        assert np.array_equal(cache.read(*p), kept[p])
    assert not temporary_files(out)
    with pytest.raises(ValueError, match='another cache folder'):
        run_tool(dis_cache['cfg'], out, dict(type='DISFlow', preset='fast'))


# ----------------------------------------------------------------------
# LoadPrecomputedFlow
# ----------------------------------------------------------------------
def test_pipeline_flip_serves_flipped_negated_cache(dis_cache):
    """With a flip, the packed flows are the cached flows mirrored with the
    x component negated (exactly: the cache's float16 values)."""
    root = dis_cache['root']
    ds = synthetic_dataset(root, cached_pipeline(
        dis_cache['dir'], root, [dict(type='VideoRandomFlip', prob=1.0)]),
        sample_policy='fixed')
    cache = FlowCache(dis_cache['dir'], root)
    for idx in range(len(ds)):
        s = ds[idx]['data_samples']
        paths = s.img_paths
        assert s.flip and s.flows.shape == (2, 2, 48, 64)
        assert s.flow_valid.shape == (2, 1, 48, 64) and s.flow_valid.all()
        for a in range(2):
            c = torch.from_numpy(cache.read(paths[a], paths[a + 1]))
            assert torch.equal(s.flows[a, 0], -c[0].flip(-1))
            assert torch.equal(s.flows[a, 1], c[1].flip(-1))


def exact_cache(ds, cache_dir):
    """A cache holding the synthetic video's exact flow for every pair of
    ``ds.flow_pairs()`` (the "perfect estimator"), via SyntheticExactFlow."""
    cache = FlowCache(str(cache_dir), ds.data_root)
    wanted = set(ds.flow_pairs())
    exact = SyntheticExactFlow()
    for a, b in wanted:
        cache.write(a, b, exact(a, b)[0])
    assert len(entries(cache_dir)) == len(wanted)
    return cache


@pytest.mark.parametrize('policy', ['fixed', 'random'])
def test_pipeline_with_exact_cache_equals_synthetic_flow(
        synthetic_root, tmp_path, policy):
    """Exact flows written into the cache: after resize, crop and flip the
    pipeline's flows equal LoadSyntheticFlow's for the same sample and the
    same random draws, exactly (even integers are exact in float16)."""
    geometric = [dict(type='VideoResize', scale=(64, 48),
                      ratio_range=(0.5, 2.0)),
                 dict(type='VideoRandomCrop', crop_size=(40, 48),
                      cat_max_ratio=0.9),
                 dict(type='VideoRandomFlip', prob=0.5)]
    exact = synthetic_dataset(synthetic_root, [
        dict(type='LoadVideoFrames'), dict(type='LoadVideoAnnotations'),
        dict(type='LoadSyntheticFlow'), *geometric,
        dict(type='PackVideoSegInputs')], sample_policy=policy)
    exact_cache(exact, tmp_path / 'exact')
    cached = synthetic_dataset(synthetic_root, cached_pipeline(
        tmp_path / 'exact', synthetic_root, geometric), sample_policy=policy)
    flips = set()
    for idx in range(len(exact)):
        for seed in (idx, 100 + idx):
            outs = []
            for d in (exact, cached):
                random.seed(seed)
                np.random.seed(seed)
                outs.append(d[idx]['data_samples'])
            e, c = outs
            assert e.img_paths == c.img_paths and e.flip == c.flip
            assert e.img_shape == c.img_shape
            assert torch.equal(e.flows, c.flows)
            assert torch.equal(e.gt_sem_seg.data, c.gt_sem_seg.data)
            flips.add(e.flip)
    assert flips == {True, False}


def test_on_missing_error_names_pair(synthetic_root, tmp_path):
    ds = synthetic_dataset(synthetic_root, cached_pipeline(
        tmp_path / 'empty', synthetic_root), sample_policy='fixed')
    info = ds.draw_frames(ds.get_data_info(0))
    a, b = info['img_paths'][:2]
    with pytest.raises(FlowCacheError,
                       match=re.escape(a) + ' -> ' + re.escape(b)):
        ds[0]
    assert not entries(tmp_path / 'empty')


def test_on_missing_compute_fills_entries(synthetic_root, tmp_path):
    """on_missing='compute' runs the estimator on the sample's frames (as
    the tool would: same flows), stores the entries and serves them."""
    out = tmp_path / 'c'
    ds = synthetic_dataset(synthetic_root, cached_pipeline(
        out, synthetic_root, on_missing='compute', estimator=ULTRAFAST),
        sample_policy='fixed')
    s = ds[0]['data_samples']
    paths = s.img_paths
    cache = FlowCache(str(out), synthetic_root)
    assert len(entries(out)) == 2
    est = MODELS.build(ULTRAFAST)
    for a in range(2):
        stored = torch.from_numpy(cache.read(paths[a], paths[a + 1], (48, 64)))
        assert torch.equal(s.flows[a], stored)
        direct = torch.from_numpy(flow_of_images(
            est, read_rgb(paths[a]), read_rgb(paths[a + 1])))
        assert (stored - direct).abs().max() <= direct.abs().max() * F16_REL
    # now served from the cache, also with on_missing='error'
    again = synthetic_dataset(synthetic_root, cached_pipeline(
        out, synthetic_root), sample_policy='fixed')[0]['data_samples']
    assert torch.equal(again.flows, s.flows)
    with pytest.raises(ValueError, match='estimator'):
        synthetic_dataset(synthetic_root, cached_pipeline(
            out, synthetic_root, on_missing='compute'))


def test_refused_after_a_geometric_transform(synthetic_root, tmp_path):
    """After a flip or a resize the frames no longer match the cached flows:
    the step refuses instead of serving (or overwriting) wrong flows."""
    for geo in (dict(type='VideoRandomFlip', prob=1.0),
                dict(type='VideoResize', scale_factor=0.5)):
        ds = synthetic_dataset(synthetic_root, [
            dict(type='LoadVideoFrames'), dict(type='LoadVideoAnnotations'), geo,
            dict(type='LoadPrecomputedFlow', cache_dir=str(tmp_path / 'c'),
                 data_root=synthetic_root, on_missing='compute',
                 estimator=ULTRAFAST),
            dict(type='PackVideoSegInputs')])
        with pytest.raises(ValueError, match='before the geometric'):
            ds[0]
    assert not entries(tmp_path / 'c')


def test_fill_computes_missing_pairs_and_names_a_missing_frame(
        synthetic_root, tmp_path):
    """PrecomputedFlow.fill (the tool's engine) computes only the pairs not
    cached, with the estimator's own flows; a missing frame is named and the
    pairs before it stay stored."""
    ds = synthetic_dataset(synthetic_root, [])
    pairs = ds.flow_pairs()[:4]
    source = PrecomputedFlow(str(tmp_path / 'c'), ds.data_root,
                             on_missing='compute', estimator=ULTRAFAST)
    assert source.fill(pairs[:2], progress=False) == 2
    assert source.fill(pairs, progress=False) == 2
    est = MODELS.build(ULTRAFAST)
    for a, b in pairs:
        ref = flow_of_images(est, read_rgb(a), read_rgb(b))
        got = source.cache.read(a, b)
        assert np.abs(got - ref).max() <= np.abs(ref).max() * F16_REL
    gone = tmp_path / 'gone.png'
    with pytest.raises(FileNotFoundError, match='gone.png'):
        source.fill([ds.flow_pairs()[4], (pairs[0][0], str(gone))],
                    progress=False)
    # named while checking, before any flow is computed
    assert not source.cache.has(*ds.flow_pairs()[4])
    with pytest.raises(ValueError, match='no estimator'):
        PrecomputedFlow(str(tmp_path / 'c'), ds.data_root).fill(
            [ds.flow_pairs()[5]], progress=False)


# ----------------------------------------------------------------------
# Verification and repair (a damaged entry does not survive a rerun)
# ----------------------------------------------------------------------
def damage(cache, pairs):
    """Truncates the entry of pairs[0] and gives pairs[1] a wrong shape."""
    p0 = cache.path(*pairs[0])
    with open(p0, 'rb') as f:
        head = f.read(60)
    with open(p0, 'wb') as f:
        f.write(head)
    np.save(cache.path(*pairs[1]), np.zeros((2, 10, 10), np.float16))


def test_verify_only_reports_and_rerun_repairs(dis_cache, tmp_path, capsys):
    out = tmp_path / 'cache'
    shutil.copytree(dis_cache['dir'], out)
    ds = synthetic_dataset(dis_cache['root'], [])
    cache = FlowCache(str(out), ds.data_root)
    bad = ds.flow_pairs()[3:5]
    kept = {p: cache.read(*p) for p in bad}
    damage(cache, bad)
    intact = {p: t for p, t in entries(out).items()
              if p not in (cache.path(*bad[0]), cache.path(*bad[1]))}
    report = run_tool(dis_cache['cfg'], out, ULTRAFAST, '--verify-only')
    assert report == dict(pairs=NUM_PAIRS, missing=0, stale=0, corrupt=2)
    printed = capsys.readouterr().out
    assert f'{NUM_PAIRS - 2} cached and valid, 0 missing, 0 stale' in printed
    assert '2 corrupt' in printed
    assert osp.getsize(cache.path(*bad[0])) == 60  # verify-only: untouched
    assert run_tool(dis_cache['cfg'], out) == dict(
        pairs=NUM_PAIRS, computed=2, repaired=2, stale=0)
    assert '2 repaired corrupt entries' in capsys.readouterr().out
    for p in bad:  # DIS is deterministic: the flows of before
        assert np.array_equal(cache.read(*p, shape=(48, 64)), kept[p])
    after = entries(out)
    assert {p: after[p] for p in intact} == intact
    assert run_tool(dis_cache['cfg'], out, ULTRAFAST, '--verify-only') == dict(
        pairs=NUM_PAIRS, missing=0, stale=0, corrupt=0)


def test_training_with_compute_repairs_a_corrupt_entry(dis_cache, tmp_path):
    """on_missing='compute' recomputes a truncated entry met in training
    (and stores it); on_missing='error' names it as corrupt."""
    out = tmp_path / 'cache'
    shutil.copytree(dis_cache['dir'], out)
    root = dis_cache['root']
    strict = synthetic_dataset(root, cached_pipeline(out, root),
                               sample_policy='fixed')
    paths = strict.draw_frames(strict.get_data_info(0))['img_paths']
    cache = FlowCache(str(out), root)
    good = cache.read(paths[0], paths[1])
    damage(cache, [(paths[0], paths[1]), (paths[1], paths[2])])
    with pytest.raises(FlowCacheError, match='corrupt'):
        strict[0]
    repairing = synthetic_dataset(root, cached_pipeline(
        out, root, on_missing='compute', estimator=ULTRAFAST),
        sample_policy='fixed')
    s = repairing[0]['data_samples']
    assert np.array_equal(cache.read(paths[0], paths[1], (48, 64)), good)
    assert cache.problem(paths[1], paths[2], (48, 64)) is None
    assert torch.equal(s.flows[0], torch.from_numpy(good))
    assert torch.equal(strict[0]['data_samples'].flows, s.flows)


def test_fill_repairs_corrupt_entries(dis_cache, tmp_path):
    out = tmp_path / 'cache'
    shutil.copytree(dis_cache['dir'], out)
    ds = synthetic_dataset(dis_cache['root'], [])
    source = PrecomputedFlow(str(out), ds.data_root, on_missing='compute',
                             estimator=ULTRAFAST)
    bad = ds.flow_pairs()[:2]
    damage(source.cache, bad)
    report = source.check(ds.flow_pairs())
    assert [p for p, _ in report['corrupt']] == bad
    assert 'corrupt' in report['corrupt'][0][1] and not report['missing']
    assert source.fill(ds.flow_pairs(), progress=False) == 2
    assert len(source.check(ds.flow_pairs())['ok']) == NUM_PAIRS


# ----------------------------------------------------------------------
# LoadFlow on a forward-backward checked cache: flow_valid for the loss
# ----------------------------------------------------------------------
def fb_cached_pipeline(cache_dir, root, **flow_kwargs):
    return [dict(type='LoadVideoFrames'), dict(type='LoadVideoAnnotations'),
            dict(type='LoadFlow', source=dict(
                type='ForwardBackwardChecked', source=dict(
                    type='PrecomputedFlow', cache_dir=str(cache_dir),
                    data_root=root, **flow_kwargs))),
            dict(type='PackVideoSegInputs')]


def test_flow_cache_config_finds_the_cache():
    from mmseg_temporal.datasets.transforms import flow_cache_config
    plain = [dict(type='LoadVideoFrames'),
             dict(type='LoadPrecomputedFlow', cache_dir='c', data_root='r')]
    assert flow_cache_config(plain) == (dict(cache_dir='c', data_root='r'),
                                        False)
    assert flow_cache_config(fb_cached_pipeline('c', 'r')) == (
        dict(cache_dir='c', data_root='r'), True)
    assert flow_cache_config([dict(type='LoadSyntheticFlow')]) == (None, False)


def test_forward_backward_cache_serves_flow_valid(synthetic_root, tmp_path):
    """The tool precomputes both directions for a checked cache; the
    pipeline then serves the cached flow with flow_valid = the
    forward-backward check of the two cached directions."""
    from mmseg_temporal.flow.ops import forward_backward_valid
    cfg = tmp_path / 'fb.py'
    out = tmp_path / 'cache'
    cfg.write_text(
        f'_base_ = [{str(BASE_CFG)!r}]\n'
        f'train_dataloader = dict(dataset=dict(data_root={synthetic_root!r}, '
        + ', '.join(f'{k}={v!r}' for k, v in SYNTH.items())
        + f', pipeline={fb_cached_pipeline(out, synthetic_root)!r}))\n')
    result = load_tool().main([str(cfg), '--estimator', json.dumps(ULTRAFAST),
                               '--device', 'cpu'])
    assert result == dict(pairs=2 * NUM_PAIRS, computed=2 * NUM_PAIRS,
                          repaired=0, stale=0)
    ds = synthetic_dataset(synthetic_root, fb_cached_pipeline(
        out, synthetic_root), sample_policy='fixed')
    cache = FlowCache(str(out), synthetic_root)
    kept = []
    for idx in range(len(ds)):
        s = ds[idx]['data_samples']
        for a in range(2):
            pa, pb = s.img_paths[a], s.img_paths[a + 1]
            fwd = torch.from_numpy(cache.read(pa, pb))
            bwd = torch.from_numpy(cache.read(pb, pa))
            assert torch.equal(s.flows[a], fwd)
            assert torch.equal(s.flow_valid[a],
                               forward_backward_valid(fwd[None], bwd[None])[0])
            kept.append(s.flow_valid[a].float().mean().item())
    assert 0.3 < np.mean(kept) < 1.0  # the check removes some pixels


def test_verify_only_exit_status(dis_cache, tmp_path):
    """From the command line, --verify-only exits 1 on a damaged cache (0
    on a sound one) and computes nothing."""
    import subprocess
    import sys
    out = tmp_path / 'cache'
    shutil.copytree(dis_cache['dir'], out)
    cmd = [sys.executable, str(ROOT / 'tools' / 'precompute_flow.py'),
           dis_cache['cfg'], '--out', str(out), '--verify-only']
    sound = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert sound.returncode == 0, sound.stderr[-2000:]
    ds = synthetic_dataset(dis_cache['root'], [])
    cache = FlowCache(str(out), ds.data_root)
    os.remove(cache.path(*ds.flow_pairs()[0]))
    damaged = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert damaged.returncode == 1
    assert '1 missing, 0 stale' in damaged.stdout
    assert not cache.has(*ds.flow_pairs()[0])


def test_verify_only_reports_a_replaced_frame_stale(dis_cache, tmp_path,
                                                    capsys):
    """A frame replaced after its flows were cached: --verify-only reports
    its pairs stale (not "valid"), a rerun recomputes exactly those and
    removes the stale entries."""
    data, out = tmp_path / 'data', tmp_path / 'cache'
    shutil.copytree(dis_cache['root'], data)  # copy2 keeps mtimes
    shutil.copytree(dis_cache['dir'], out)
    cfg = precompute_config(tmp_path, str(data))
    assert run_tool(cfg, out, ULTRAFAST, '--verify-only')['stale'] == 0
    ds = synthetic_dataset(str(data), [])
    frame = ds.flow_pairs()[0][0]
    hit = [p for p in ds.flow_pairs() if frame in p]
    os.utime(frame, ns=(1, 1))  # a replaced frame: another mtime
    capsys.readouterr()
    assert run_tool(cfg, out, ULTRAFAST, '--verify-only') == dict(
        pairs=NUM_PAIRS, missing=0, stale=len(hit), corrupt=0)
    assert f'{len(hit)} stale' in capsys.readouterr().out
    before = len(entries(out))
    assert run_tool(cfg, out) == dict(pairs=NUM_PAIRS, computed=len(hit),
                                      repaired=0, stale=len(hit))
    assert len(entries(out)) == before  # stale entries replaced, not kept
    assert run_tool(cfg, out, ULTRAFAST, '--verify-only')['stale'] == 0
