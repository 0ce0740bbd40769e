"""The CPU study's training step in float32 and bfloat16, interleaved in one
run (issue 21, item 3; docs/benchmarks.md "bf16 training on the CPU").

    python benchmarks/speed/train_step_precision.py [--steps 20] [--warmup 3]
        [--threads N] [--schemes a,j] [--out result.json]

Schemes (the CamVid CPU study's models, ``configs/camvid_cpu/``):

* ``a``: ``pspnet_tiny_baseline_camvid_cpu.py``, the tiny student, CE on
  single labelled frames;
* ``j``: ``pspnet_tiny_etc_camvid_cpu.py``, SF + PF + MF + TL from the
  study's teacher (the student at twice the width; random weights here,
  the speed does not depend on them) on triplets with flow from the data.

Each scheme runs as two variants built from the same initial weights:
``fp32`` (the configs' ``OptimWrapper``, SGD) and ``bf16``
(``CPUAutocastOptimWrapper``, the switch of
``configs/_base_/schedules/bf16_cpu.py``). The batch is the study's shape
(4 crops of 176x224; triplets for ``j``) packed by the project's
``PackVideoSegInputs`` from random frames, labels and smooth random flow:
the model step alone is timed (``model.train_step``: preprocessing,
forward, losses, backward, SGD step, plus ``j``'s ConvLSTM clip), not
data loading. Cycle after cycle every variant takes one step, in an order
reversed every other cycle; the first ``--warmup`` cycles are not counted.
Reports the median and fastest step per variant, bf16's speed-up, and
the first step's losses of bf16 against fp32 (same weights, batch, seed).
Refuses (one line) on a CPU without bfloat16 hardware.
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmseg_temporal  # noqa: F401
from mmseg_temporal.utils.atomic import atomic_write_text
from mmseg_temporal.utils.cpu_info import check_native_bf16, cpu_model, isa_summary

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    a='configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu.py',
    j='configs/camvid_cpu/pspnet_tiny_etc_camvid_cpu.py')
FRAMES = dict(a=1, j=3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=20, help='timed cycles')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--schemes', default='a,j')
    p.add_argument('--out', help='save the figures as JSON here')
    return p.parse_args(argv)


def model_config(scheme: str):
    """The scheme's model config (teacher at random weights) and batch size."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[scheme]))
    model = copy.deepcopy(cfg.model)
    if model.get('teacher'):
        teacher = model.teacher.config
        model.teacher = dict(config=osp.join(ROOT, teacher), checkpoint=None)
    return model, cfg.train_dataloader.batch_size


def make_batch(crop, batch: int, frames: int, num_classes: int, seed: int = 0):
    """A packed batch (``PackVideoSegInputs``) of random frames, labels and
    smooth flow between consecutive frames."""
    from mmengine.dataset import pseudo_collate

    from mmseg_temporal.datasets.transforms.formatting import PackVideoSegInputs
    rng = np.random.default_rng(seed)
    h, w = crop
    pack = PackVideoSegInputs()
    samples = []
    for _ in range(batch):
        coarse = rng.normal(0, 2, (frames - 1, 2, 4, 4)).astype(np.float32)
        flows = torch.nn.functional.interpolate(
            torch.from_numpy(coarse), size=(h, w), mode='bilinear').numpy()
        results = dict(
            imgs=[rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                  for _ in range(frames)],
            gt_seg_map=rng.integers(0, num_classes, (h, w)).astype(np.uint8),
            label_index=frames // 2, img_shape=(h, w), ori_shape=(h, w))
        if frames > 1:
            results.update(flows=flows.transpose(0, 2, 3, 1),
                           flow_valid=np.ones((frames - 1, h, w), bool))
        samples.append(pack(results))
    return pseudo_collate(samples)


class Variant:
    """One scheme in one precision: model, optimiser wrapper, batch."""

    def __init__(self, scheme: str, precision: str) -> None:
        from mmengine.optim import OptimWrapper
        from mmseg.registry import MODELS

        from mmseg_temporal.engine.hooks import ConvLSTMWeightClipHook
        from mmseg_temporal.engine.optimizers import CPUAutocastOptimWrapper
        self.name = f'{scheme}-{precision}'
        cfg, batch = model_config(scheme)
        torch.manual_seed(0)
        self.model = MODELS.build(cfg)
        self.model.init_weights()
        self.model.train()
        sgd = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9,
                              weight_decay=5e-4)
        wrapper = OptimWrapper if precision == 'fp32' else CPUAutocastOptimWrapper
        self.wrapper = wrapper(optimizer=sgd)
        self.clip = ConvLSTMWeightClipHook() if scheme == 'j' else None
        head = self.model.student.decode_head
        self.batch = make_batch(cfg.data_preprocessor['size'], batch,
                                FRAMES[scheme], head.num_classes)
        self.times, self.first = [], None

    def step(self, k: int, timed: bool) -> None:
        torch.manual_seed(k)  # the same dropout draws in both precisions
        data = copy.deepcopy(self.batch)
        t0 = time.perf_counter()
        out = self.model.train_step(data, self.wrapper)
        if self.clip is not None:
            self.clip.clip(self.model)
        dt = time.perf_counter() - t0
        if self.first is None:
            self.first = {key: torch.as_tensor(v).item() for key, v in out.items()
                          if 'loss' in key}
        if timed:
            self.times.append(dt)
        print(f'cycle {k + 1}: {self.name} {dt:.3f} s', file=sys.stderr, flush=True)


def summarise(variants) -> dict:
    rows = {}
    for v in variants:
        rows[v.name] = dict(median_s=statistics.median(v.times),
                            fastest_s=min(v.times), steps=v.times,
                            first_losses=v.first)
    for name, row in rows.items():
        scheme, precision = name.split('-')
        ref = rows.get(f'{scheme}-fp32')
        if precision == 'bf16' and ref:
            row['speedup_median'] = ref['median_s'] / row['median_s']
            row['speedup_fastest'] = ref['fastest_s'] / row['fastest_s']
            row['loss_rel_diff'] = max(
                abs(row['first_losses'][k] - r) / max(abs(r), 1e-8)
                for k, r in ref['first_losses'].items())
    return rows


def format_table(result: dict) -> str:
    isa = ', '.join(k for k, v in result['isa'].items() if v)
    lines = [f'CPU: {result["cpu"]} ({isa}); torch {result["torch"]}, '
             f'{result["threads"]} threads; {result["warmup"]} warm-up + '
             f'{result["steps"]} timed cycles; load average {result["load"]:.2f}',
             '| variant | median step | fastest step | bf16 speed-up (median / '
             'fastest) | first-step losses, max rel. diff to fp32 |',
             '| --- | --- | --- | --- | --- |']
    for name, r in result['rows'].items():
        speed = (f'{r["speedup_median"]:.2f}x / {r["speedup_fastest"]:.2f}x'
                 if 'speedup_median' in r else '-')
        diff = f'{r["loss_rel_diff"]:.2e}' if 'loss_rel_diff' in r else '-'
        lines.append(f'| {name} | {r["median_s"] * 1e3:.0f} ms | '
                     f'{r["fastest_s"] * 1e3:.0f} ms | {speed} | {diff} |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    check_native_bf16('train_step_precision.py (bf16 training step)')
    torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    # init_weights() logs every parameter at INFO level
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    variants = [Variant(s, p) for s in args.schemes.split(',')
                for p in ('fp32', 'bf16')]
    for c in range(args.warmup + args.steps):
        for v in (variants if c % 2 == 0 else variants[::-1]):
            v.step(c, timed=c >= args.warmup)
    result = dict(cpu=cpu_model(), isa=isa_summary(), torch=torch.__version__,
                  threads=args.threads, warmup=args.warmup, steps=args.steps,
                  load=os.getloadavg()[0], rows=summarise(variants))
    print(format_table(result), flush=True)
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=1) + '\n')
    return result


if __name__ == '__main__':
    main()
