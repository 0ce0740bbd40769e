"""Speed of temporal-consistency evaluation: frames per second of
TemporalConsistencyMetric (decode predictions, read frames, flow, score),
with flow from DIS (computed during evaluation) and from a flow cache.

    python benchmarks/speed/tc_eval_speed.py [--sizes 96x128 360x480] [--repeats 3]

Predictions are the synthetic video's ground-truth labels (no model runs:
this times the metric alone). Prints a markdown table.
"""
import argparse
import os
import tempfile
import time

import torch
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

import mmseg_temporal  # noqa: F401
from mmseg_temporal.evaluation import TemporalConsistencyMetric
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.cpu_info import machine_line

from _common import median, samples_of


def run(metric, samples) -> float:
    metric.results = []
    t = time.perf_counter()
    metric.process({}, samples)
    metric.compute_metrics(metric.results)
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--sizes', nargs='+', default=['96x128', '360x480'])
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--videos', type=int, default=2)
    p.add_argument('--frames', type=int, default=20)
    args = p.parse_args()
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            h, w = map(int, size.split('x'))
            root = os.path.join(tmp, size)
            ds = DATASETS.build(dict(
                type='SyntheticVideoDataset', data_root=root, split='test',
                num_videos=args.videos, frames_per_video=args.frames,
                height=h, width=w, sample_mode='sequence', pipeline=[]))
            samples = samples_of(ds)
            classes = dict(classes=ds.metainfo['classes'])
            # Fill the cache once (what tools/precompute_flow.py runs).
            source = PrecomputedFlow(os.path.join(tmp, 'cache' + size), root,
                                     on_missing='compute',
                                     estimator=dict(type='DISFlow',
                                                    preset='medium'))
            by_seq = {}
            for s in samples:
                by_seq.setdefault(s.seq_name, []).append(s.img_path)
            t = time.perf_counter()
            source.fill([pair for paths in by_seq.values()
                         for pair in zip(paths[:-1], paths[1:])],
                        progress=False)
            precompute = time.perf_counter() - t
            online = TemporalConsistencyMetric(flow=dict(type='DISFlow', preset='medium'),
                                               show_progress=False)
            cached = TemporalConsistencyMetric(
                flow=dict(type='PrecomputedFlow',
                          cache_dir=source.cache.cache_dir, data_root=root),
                show_progress=False)
            for m in (online, cached):
                m.dataset_meta = classes
            t_on, t_ca = [], []
            for _ in range(args.repeats):  # interleaved: side by side
                t_on.append(run(online, samples))
                t_ca.append(run(cached, samples))
            n = len(samples)
            rows.append((size, n, n / median(t_on), n / median(t_ca),
                         median(t_on) / median(t_ca), precompute))
    print(machine_line(repeats=f'{args.repeats} (medians)'))
    print('| frames | frames scored | fps, DIS online | fps, flow cache | '
          'cache speed-up | cache fill (DIS) |')
    print('| --- | --- | --- | --- | --- | --- |')
    for size, n, f_on, f_ca, ratio, pre in rows:
        print(f'| {size} | {n} | {f_on:.1f} | {f_ca:.1f} | {ratio:.2f}x | '
              f'{pre:.2f} s |')


if __name__ == '__main__':
    main()
