"""One epoch of the synthetic triplet training data: cached vs online flow.

For each frame size, on the project's synthetic video (the training split of
``configs/_base_/datasets/synthetic_video.py``: 8 videos of 20 frames,
labelled frames 5, 10, 15, offsets 1..3 on each side: 24 triplets, 144 flow
pairs), rendered at that size:

1. precompute: ``PrecomputedFlow.fill`` (what ``tools/precompute_flow.py``
   runs) fills a fresh flow cache with DIS flow for every pair of
   ``dataset.flow_pairs()``; its wall time and the cache's size on disk (bytes per pair against
   float32) are reported;
2. one epoch = ``dataset[i]`` for every sample (no model, no DataLoader
   workers) of the config's training pipeline (LoadVideoFrames,
   LoadVideoAnnotations, flow, VideoResize, VideoRandomCrop,
   VideoRandomFlip, VideoPhotoMetricDistortion, PackVideoSegInputs; resize
   scale and crop size follow the frame size), in two variants:

   * ``cached``: the flow step is ``LoadPrecomputedFlow`` on that cache;
   * ``online``: no flow step; after each sample DIS runs on its packed,
     transformed frames for each consecutive pair (what the segmentor does
     with a ``flow`` estimator and no flow in the data:
     ``flow(raw[:, a], raw[:, a + 1])`` on the RGB frames). Its pipeline
     time (= the epoch without flow) and DIS time are also reported apart.

   Both variants see the same samples and the same random draws (Python and
   NumPy seeded alike before each epoch). One warm-up epoch each, then
   ``--repeats`` epochs alternating cached/online; medians are reported.

torch runs with 1 thread by default (as in DataLoader workers): on a small
shared machine, 2-thread torch ops on small tensors (DISFlow's RGB -> gray
conversion, the packing copy) can stall for tens of ms waiting for the
second thread to be scheduled, which makes the timings depend on the other
jobs more than on the code (``--threads 2`` to see it).

Usage::

    python benchmarks/speed/flow_cache_epoch.py [--sizes 96x128,360x480]
        [--repeats 9] [--preset medium] [--root DIR] [--threads 1]
"""
import argparse
import os
import os.path as osp
import random
import shutil
import statistics
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS
from mmseg.utils import register_all_modules

import mmseg_temporal  # noqa: F401
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.cpu_info import machine_line

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BASE_CFG = osp.join(ROOT, 'configs', '_base_', 'datasets', 'synthetic_video.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', default='96x128,360x480', help='HxW,HxW,...')
    p.add_argument('--repeats', type=int, default=9)
    p.add_argument('--preset', default='medium', help='DIS preset')
    p.add_argument('--root', default=osp.join(tempfile.gettempdir(),
                                              'flow_cache_epoch'),
                   help='folder for the rendered videos and the caches')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (1, as in DataLoader workers; see the '
                        'module docstring)')
    return p.parse_args()


def train_pipeline(cfg, h, w, flow_step):
    """The config's training pipeline at frame size ``(h, w)`` with
    ``flow_step`` in place of LoadSyntheticFlow (``None``: no flow)."""
    out = []
    for step in cfg.train_pipeline:
        step = dict(step)
        if step['type'] == 'LoadSyntheticFlow':
            if flow_step is not None:
                out.append(flow_step)
            continue
        if step['type'] == 'VideoResize':
            step['scale'] = (w, h)
        if step['type'] == 'VideoRandomCrop':
            step['crop_size'] = (h, w)
        out.append(step)
    return out


def dataset_options(data_root, h, w):
    return dict(data_root=data_root, height=h, width=w)


def build_dataset(cfg, pipeline, data_root, h, w):
    ds_cfg = dict(cfg.train_dataloader.dataset)
    ds_cfg.update(dataset_options(data_root, h, w), pipeline=pipeline)
    return DATASETS.build(ds_cfg)


def cache_size(cache_dir):
    """(number of entries, bytes of the files, bytes allocated on disk)."""
    n = size = alloc = 0
    for d, _, files in os.walk(cache_dir):
        for f in files:
            if f.endswith('.npy'):
                st = os.stat(osp.join(d, f))
                n, size, alloc = n + 1, size + st.st_size, alloc + st.st_blocks * 512
    return n, size, alloc


def epoch_cached(ds, seed):
    random.seed(seed)
    np.random.seed(seed)
    t0 = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return time.perf_counter() - t0


def epoch_online(ds, estimator, seed):
    """Returns (total, pipeline part, DIS part) seconds."""
    random.seed(seed)
    np.random.seed(seed)
    t_pipe = t_flow = 0.0
    for i in range(len(ds)):
        t0 = time.perf_counter()
        out = ds[i]
        t1 = time.perf_counter()
        raw = out['inputs'].flip(1).float()[None]  # (1, T, 3, H, W) RGB
        for a in range(raw.shape[1] - 1):
            estimator(raw[:, a], raw[:, a + 1])
        t_pipe += t1 - t0
        t_flow += time.perf_counter() - t1
    return t_pipe + t_flow, t_pipe, t_flow


def run_size(cfg, args, h, w):
    data_root = osp.join(args.root, f'synthetic_{h}x{w}')
    cache_dir = osp.join(args.root, f'cache_{h}x{w}_{args.preset}')
    est_cfg = dict(type='DISFlow', preset=args.preset)
    plain = build_dataset(cfg, [], data_root, h, w)  # renders the video once
    pairs = plain.flow_pairs()
    shutil.rmtree(cache_dir, ignore_errors=True)
    t0 = time.perf_counter()
    computed = PrecomputedFlow(cache_dir, data_root, estimator=est_cfg,
                               device='cpu').fill(pairs, progress=False)
    t_pre = time.perf_counter() - t0
    assert computed == len(pairs), (computed, len(pairs))
    n, size, alloc = cache_size(cache_dir)
    assert n == len(pairs)
    cached = build_dataset(cfg, train_pipeline(cfg, h, w, dict(
        type='LoadPrecomputedFlow', cache_dir=cache_dir, data_root=data_root)),
        data_root, h, w)
    online = build_dataset(cfg, train_pipeline(cfg, h, w, None), data_root, h, w)
    estimator = MODELS.build(est_cfg)
    epoch_cached(cached, 0)  # warm-up (file cache, lazy imports)
    epoch_online(online, estimator, 0)
    t_c, t_o, t_op, t_of = [], [], [], []
    for r in range(args.repeats):
        t_c.append(epoch_cached(cached, r + 1))
        tot, pipe, flow = epoch_online(online, estimator, r + 1)
        t_o.append(tot)
        t_op.append(pipe)
        t_of.append(flow)
    med = statistics.median
    return dict(loadavg=os.getloadavg()[0],
        size=f'{h}x{w}', samples=len(cached), pairs=len(pairs),
        flow_calls=2 * len(cached), precompute_s=t_pre,
        precompute_ms_per_pair=1000 * t_pre / len(pairs),
        cache_bytes=size, cache_alloc_bytes=alloc,
        bytes_per_pair=size / n, float32_bytes_per_pair=128 + 2 * h * w * 4,
        cached_s=med(t_c), online_s=med(t_o), online_pipeline_s=med(t_op),
        online_dis_s=med(t_of), ratio=med(t_o) / med(t_c),
        cached_min_s=min(t_c), online_min_s=min(t_o),
        ratio_paired=med([o / c for o, c in zip(t_o, t_c)]),
        cached_all=t_c, online_all=t_o)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(BASE_CFG)
    print(machine_line(DIS_preset=args.preset, repeats=args.repeats))
    rows = []
    for s in args.sizes.split(','):
        h, w = (int(v) for v in s.lower().split('x'))
        load = os.getloadavg()[0]
        r = run_size(cfg, args, h, w)
        rows.append(r)
        print(f'\n{r["size"]}: {r["samples"]} samples, {r["pairs"]} cached '
              f'pairs, {r["flow_calls"]} online DIS calls per epoch (load '
              f'average {load:.2f} before, {r["loadavg"]:.2f} after)')
        print(f'  precompute: {r["precompute_s"]:.2f} s '
              f'({r["precompute_ms_per_pair"]:.1f} ms/pair)')
        print(f'  cache: {r["cache_bytes"] / 2**20:.2f} MiB '
              f'({r["cache_alloc_bytes"] / 2**20:.2f} MiB allocated), '
              f'{r["bytes_per_pair"]:.0f} B/pair vs float32 '
              f'{r["float32_bytes_per_pair"]} B/pair '
              f'({r["bytes_per_pair"] / r["float32_bytes_per_pair"]:.3f})')
        print(f'  epoch, median: cached {r["cached_s"]:.3f} s, online '
              f'{r["online_s"]:.3f} s (pipeline {r["online_pipeline_s"]:.3f} '
              f's + DIS {r["online_dis_s"]:.3f} s), online/cached '
              f'{r["ratio"]:.2f} (median of the per-repeat ratios '
              f'{r["ratio_paired"]:.2f}); fastest epoch: cached '
              f'{r["cached_min_s"]:.3f} s, online {r["online_min_s"]:.3f} s')
        print('  all epochs: cached ' + ', '.join(
            f'{t:.3f}' for t in r['cached_all']) + '; online ' + ', '.join(
            f'{t:.3f}' for t in r['online_all']))
    print('\n| frames | samples | precompute (pairs) | cache, B/pair (float32) '
          '| epoch cached | epoch online (pipeline + DIS) | online/cached |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for r in rows:
        print(f'| {r["size"]} | {r["samples"]} | {r["precompute_s"]:.2f} s '
              f'({r["pairs"]}) | {r["bytes_per_pair"]:.0f} '
              f'({r["float32_bytes_per_pair"]}) | {r["cached_s"]:.3f} s | '
              f'{r["online_s"]:.3f} s ({r["online_pipeline_s"]:.3f} + '
              f'{r["online_dis_s"]:.3f}) | {r["ratio"]:.2f} |')


if __name__ == '__main__':
    main()
