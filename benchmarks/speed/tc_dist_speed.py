"""Temporal-consistency evaluation with 1 and 2 processes: the time of
``TemporalConsistencyMetric.evaluate`` (gather, flows, scoring), where in a
distributed test every rank estimates the flows of its own block of frame
pairs. No model runs: the predictions are the synthetic video's labels.

    python benchmarks/speed/tc_dist_speed.py [--size 360x480] [--videos 4]
        [--repeats 3]

Each process gets 1 thread (torch and OpenCV), so 2 processes use the
machine's 2 cores. Runs with 1 and 2 processes are interleaved; medians.
Prints a markdown table.
"""
import argparse
import os
import sys
import tempfile
import time

import torch

from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, median, run_child, samples_of

SCRIPT = os.path.abspath(__file__)


def worker(args) -> None:
    """One rank (under torchrun): process its samples, time evaluate()."""
    import cv2
    import torch.distributed as dist
    from mmseg.registry import DATASETS

    import mmseg_temporal  # noqa: F401
    from mmseg_temporal.evaluation import TemporalConsistencyMetric
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    h, w = map(int, args.size.split('x'))
    ds = DATASETS.build(dict(
        type='SyntheticVideoDataset', data_root=args.data_root, split='test',
        num_videos=args.videos, frames_per_video=20, height=h, width=w,
        sample_mode='sequence', pipeline=[]))
    # this rank's share, as MMEngine's DefaultSampler deals it
    samples = samples_of(ds, range(rank, len(ds), world))
    metric = TemporalConsistencyMetric(
        flow=dict(type='DISFlow', preset='medium'), show_progress=False)
    metric.dataset_meta = dict(classes=ds.metainfo['classes'])
    metric.process({}, samples)
    dist.barrier()
    t = time.perf_counter()
    result = metric.evaluate(len(ds))
    dist.barrier()
    if rank == 0:
        emit_result(dict(seconds=time.perf_counter() - t, frames=len(ds),
                         mTC=round(result['mTC'], 2)))
    dist.destroy_process_group()


def launch(nproc: int, args, port: int) -> tuple:
    res = run_child(
        [sys.executable, '-m', 'torch.distributed.run',
         f'--nproc_per_node={nproc}', f'--master_port={port}', SCRIPT,
         '--worker', '--size', args.size, '--videos', str(args.videos),
         '--data-root', args.data_root],
        f'{nproc} processes', env=dict(os.environ, OMP_NUM_THREADS='1'),
        timeout=1200)
    return res['seconds'], res['frames'], res['mTC']


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--size', default='360x480')
    p.add_argument('--videos', type=int, default=4)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--data-root', default=None)
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    args.data_root = args.data_root or tempfile.mkdtemp(prefix='tc_dist_')
    times = {1: [], 2: []}
    agreed = None  # (frames, mTC): the same with 1 and 2 processes
    port = 29631
    for _ in range(args.repeats):
        for nproc in (1, 2):  # interleaved: side by side
            sec, frames, mtc = launch(nproc, args, port)
            port += 1
            times[nproc].append(sec)
            agreed = agreed or (frames, mtc)
            assert (frames, mtc) == agreed, 'the 2 runs must agree'
    one, two = median(times[1]), median(times[2])
    print(machine_line())
    print(f'{frames} frames of {args.size} ({args.videos} videos), DIS '
          f'medium, {args.repeats} repeats (medians); mTC {mtc:.2f} both ways')
    print('| processes | evaluate() time | frames/s | speed-up |')
    print('| --- | --- | --- | --- |')
    for n, sec in ((1, one), (2, two)):
        print(f'| {n} | {sec:.2f} s | {frames / sec:.1f} | {one / sec:.2f}x |')


if __name__ == '__main__':
    main()
