"""Training-step time and peak memory of schemes a, e and j on the CPU.

Schemes (the synthetic configs, 96x128 crops, batch 4, the configs'
defaults):

* ``a``: ``configs/synthetic/pspnet_tiny_baseline_video_synthetic.py``,
  cross-entropy only, single labelled frames;
* ``e``: ``configs/synthetic/pspnet_tiny_tl_synthetic.py``, + TL on
  triplets;
* ``j``: ``configs/synthetic/pspnet_tiny_etc_synthetic.py``, SF + PF + MF +
  TL with the frozen teacher of
  ``configs/synthetic/pspnet_small_teacher_tl_synthetic.py`` (its weights:
  a freshly built, ``init_weights()``-ed teacher saved to a checkpoint by
  this script; the speed does not depend on them).

For ``e`` and ``j``, three ways to get the flow:

* ``cache``: flow from the data: ``PrecomputedFlow.fill`` (what
  ``tools/precompute_flow.py`` runs) fills a flow cache with DIS
  (``preset='fast'``) for every pair the triplet sampler can ask for, and
  the pipeline's ``LoadSyntheticFlow`` is replaced by
  ``LoadPrecomputedFlow`` on that cache: the flow costs a file read inside
  data loading, nothing in the model;
* ``dis``: no flow step in the pipeline, ``model.flow=dict(type='DISFlow',
  preset='fast')``: the segmentor computes the flow of the 2 pairs of each
  of the 4 triplets inside its training step;
* ``fn2``: same with ``model.flow=dict(type='FlowNet2')`` (random weights;
  the speed does not depend on them), which resizes 96x128 to 128x128.

Time: one subprocess builds every variant: the config's training dataset
(``mmseg.registry.DATASETS``, the video rendered once into ``--root``), the
model (``mmseg.registry.MODELS``, ``init_weights()``, ``train()``), one
fixed batch (samples 0-3 of the dataset, the same seed and so the same
frames and random draws for every variant, collated with MMEngine's
``pseudo_collate``: ``dict(inputs=[...], data_samples=[...])``) and an
``mmengine.optim.OptimWrapper(torch.optim.SGD(lr=0.01, momentum=0.9,
weight_decay=5e-4))`` (the configs' optimiser). Then, cycle after cycle,
every variant in turn (the order reversed every other cycle, so that the
ratios to ``a`` are measured side by side on a noisy machine):

* data: ``dataset[i]`` for 4 samples + ``pseudo_collate``, in the main
  process (no DataLoader workers), the next 4 samples each cycle; the part
  spent in ``LoadPrecomputedFlow`` is reported apart;
* model: ``model.train_step(batch, optim_wrapper)``, MMEngine's training
  step (``model.data_preprocessor(data, True)``, forward, losses,
  backward, SGD step) plus, for ``j``, the config's
  ``ConvLSTMWeightClipHook`` clip that follows every iteration; the part
  spent in the flow estimator is reported apart.

``--warmup`` cycles (default 3) are not counted; the figures are medians
over ``--steps`` timed cycles (and, in brackets, the ratio of the fastest
steps, the figure least hit by other jobs on a shared machine). Total per
step = data + model (the cost of the flow is in the model step for
``dis``/``fn2`` and in the data for ``cache``; the one-off precomputation
of the cache is reported apart).

Memory: each variant then runs alone in its own subprocess: after building
everything, it resets the kernel's peak-RSS counter (``echo 5 >
/proc/self/clear_refs``), reads ``VmRSS`` (the RSS right before the first
step: weights of the student, teacher and flow net included), runs
``--mem-steps`` training steps and reads ``VmHWM`` from
``/proc/self/status``: the peak memory of training is reported as
``VmHWM - VmRSS before the first step`` (activations, gradients, momentum
buffers, flow-net activations).

Usage (from the repository root)::

    python benchmarks/speed/train_step.py [--steps 20] [--warmup 3]
        [--mem-steps 3] [--threads 2] [--root DIR]
        [--variants a,e-cache,e-dis,e-fn2,j-cache,j-dis,j-fn2]
"""
import argparse
import copy
import os
import os.path as osp
import random
import re
import shutil
import statistics
import sys
import tempfile
import time

from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, run_child

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    a=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_baseline_video_synthetic.py'),
    e=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_tl_synthetic.py'),
    j=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_etc_synthetic.py'))
TEACHER_CFG = osp.join(ROOT, 'configs/synthetic/pspnet_small_teacher_tl_synthetic.py')
FLOWS = dict(dis=dict(type='DISFlow', preset='fast'), fn2=dict(type='FlowNet2'))
CACHE_ESTIMATOR = dict(type='DISFlow', preset='fast')
ALL_VARIANTS = 'a,e-cache,e-dis,e-fn2,j-cache,j-dis,j-fn2'
LABELS = {'a': 'a (CE)', 'e': 'e (+TL)', 'j': 'j (ETC)',
          'cache': 'data: DIS-fast cache', 'dis': 'online: DIS fast',
          'fn2': 'online: FlowNet2 (rand.)', None: '-'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=20, help='timed steps per run')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--mem-steps', type=int, default=3,
                   help='training steps of each memory run')
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--variants', default=ALL_VARIANTS)
    p.add_argument('--root', default=osp.join(tempfile.gettempdir(),
                                              'train_step_bench'),
                   help='folder for the rendered video, the flow cache and '
                        'the teacher checkpoint')
    p.add_argument('--child', choices=('time', 'mem'), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _setup():
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    import mmseg_temporal  # noqa: F401


def _proc_status():
    text = open('/proc/self/status').read()
    return {k: int(re.search(k + r':\s+(\d+) kB', text).group(1)) * 1024
            for k in ('VmRSS', 'VmHWM')}


def _reset_peak() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _paths(root):
    return dict(data_root=osp.join(root, 'synthetic_video'),
                cache_dir=osp.join(root, 'flow_cache_dis_fast'),
                teacher_ckpt=osp.join(root, 'teacher_random.pth'))


def variant_cfg(variant: str, root: str):
    """The MMEngine config of a variant, data_root/flow/teacher set."""
    from mmengine.config import Config
    scheme, _, flow = variant.partition('-')
    flow = flow or None
    paths = _paths(root)
    cfg = Config.fromfile(CONFIGS[scheme])
    ds = cfg.train_dataloader.dataset
    ds.data_root = paths['data_root']
    pipeline = []
    for step in ds.pipeline:
        if step['type'] == 'LoadSyntheticFlow':
            if flow == 'cache':
                pipeline.append(dict(type='LoadPrecomputedFlow',
                                     cache_dir=paths['cache_dir'],
                                     data_root=paths['data_root']))
            continue  # online flow: the segmentor must compute it
        pipeline.append(step)
    ds.pipeline = pipeline
    if flow in FLOWS:
        cfg.model.flow = FLOWS[flow]
    if scheme == 'j':
        cfg.model.teacher.config = TEACHER_CFG
        cfg.model.teacher.checkpoint = paths['teacher_ckpt']
    return cfg, scheme, flow


# ----------------------------------------------------------------------
# Children: build a variant; time all variants interleaved; memory of one
# ----------------------------------------------------------------------
def seed_all(s):
    import numpy as np
    import torch
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


class Variant:
    """Dataset, model, optimiser and fixed batch of one variant, with
    timers around LoadPrecomputedFlow (data) and the flow net (model)."""

    def __init__(self, name: str, root: str, copies: int) -> None:
        import torch
        from mmengine.dataset import pseudo_collate
        from mmengine.optim import OptimWrapper
        from mmseg.registry import DATASETS, MODELS

        from mmseg_temporal.engine.hooks.conv_lstm_clip_hook import ConvLSTMWeightClipHook
        self.name = name
        self.collate = pseudo_collate
        cfg, self.scheme, self.flow = variant_cfg(name, root)
        self.dataset = DATASETS.build(cfg.train_dataloader.dataset)
        self.bs = cfg.train_dataloader.batch_size
        self.spent = dict(flow_read=0.0, flow_net=0.0)
        for t in self.dataset.pipeline.transforms:
            if type(t).__name__ == 'LoadPrecomputedFlow':
                t.transform = self._timed(t.transform, 'flow_read')
        seed_all(0)
        self.model = MODELS.build(cfg.model)
        self.model.init_weights()
        self.model.train()
        if self.model.flow is not None:
            self.model.flow.forward = self._timed(self.model.flow.forward,
                                                  'flow_net')
        seed_all(0)  # the same samples and draws for every variant
        batch = pseudo_collate([self.dataset[i] for i in range(self.bs)])
        self.batches = [copy.deepcopy(batch) for _ in range(copies)]
        self.inputs = list(self.model.data_preprocessor(
            copy.deepcopy(batch), True)['inputs'].shape)
        opt = cfg.optim_wrapper.optimizer
        self.optim_wrapper = OptimWrapper(torch.optim.SGD(
            self.model.parameters(), lr=opt.lr, momentum=opt.momentum,
            weight_decay=opt.weight_decay))
        # j: the ConvLSTM clip that follows every iteration (custom_hooks)
        self.clip = (ConvLSTMWeightClipHook()
                     if any(h.get('type') == 'ConvLSTMWeightClipHook'
                            for h in cfg.get('custom_hooks', [])) else None)
        self.params = sum(p.numel() for p in self.model.parameters()
                          if p.requires_grad)
        self.n_data = 0

    def _timed(self, fn, key):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            out = fn(*a, **kw)
            self.spent[key] += time.perf_counter() - t0
            return out
        return wrapper

    def load_batch(self):
        """(seconds, of which LoadPrecomputedFlow) of ``dataset[i]`` x batch
        size + collate, the next samples in order."""
        n = len(self.dataset)
        self.spent['flow_read'] = 0.0
        t0 = time.perf_counter()
        self.collate([self.dataset[(self.n_data + i) % n]
                      for i in range(self.bs)])
        dt = time.perf_counter() - t0
        self.n_data += self.bs
        return dt, self.spent['flow_read']

    def step(self, k):
        """(seconds, of which flow net) of one training iteration."""
        self.spent['flow_net'] = 0.0
        t0 = time.perf_counter()
        log_vars = self.model.train_step(self.batches[k], self.optim_wrapper)
        if self.clip is not None:
            self.clip.clip(self.model)
        dt = time.perf_counter() - t0
        self.log_vars = {k_: float(v) for k_, v in log_vars.items()}
        return dt, self.spent['flow_net']


def child_time(args) -> dict:
    """All variants in one process, steps interleaved: cycle c runs one data
    batch and one training step of every variant (order reversed every other
    cycle); the first ``warmup`` cycles are not counted."""
    import torch
    torch.set_num_threads(args.threads)
    _setup()
    names = args.variants.split(',')
    vs = [Variant(v, args.root, args.warmup + args.steps) for v in names]
    out = {v.name: dict(scheme=v.scheme, flow=v.flow, inputs=v.inputs,
                        trainable_params=v.params, data=[], flow_read=[],
                        step=[], flow_net=[]) for v in vs}
    loads = []
    for c in range(args.warmup + args.steps):
        last = {}
        for v in (vs if c % 2 == 0 else vs[::-1]):
            d, r = v.load_batch()
            s, f = v.step(c)
            last[v.name] = (s, f)
            if c >= args.warmup:
                o = out[v.name]
                o['data'].append(d)
                o['flow_read'].append(r)
                o['step'].append(s)
                o['flow_net'].append(f)
        loads.append(os.getloadavg()[0])
        print(f'cycle {c + 1}{" (warm-up)" if c < args.warmup else ""}: '
              'step s (flow net s) ' + ', '.join(
                  f'{n} {last[n][0]:.2f} ({last[n][1]:.2f})' for n in names)
              + f'; load {loads[-1]:.2f}', file=sys.stderr, flush=True)
    return dict(variants=out, loads=loads)


def child_mem(args) -> dict:
    """One variant alone: RSS growth over ``mem_steps`` training steps."""
    import gc
    import resource

    import torch
    torch.set_num_threads(args.threads)
    _setup()
    v = Variant(args.variants, args.root, args.mem_steps)
    gc.collect()
    reset = _reset_peak()
    rss0 = _proc_status()['VmRSS']
    times = [v.step(k)[0] for k in range(args.mem_steps)]
    peak = (_proc_status()['VmHWM'] if reset else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return dict(variant=v.name, rss_before=rss0, peak=peak,
                peak_delta=peak - rss0, peak_reset=reset, step=times,
                losses=v.log_vars)


# ----------------------------------------------------------------------
# Parent: data, cache, teacher checkpoint, interleaved runs, table
# ----------------------------------------------------------------------
def prepare(args, variants):
    import torch
    _setup()
    from mmseg.registry import DATASETS, MODELS
    paths = _paths(args.root)
    os.makedirs(args.root, exist_ok=True)
    info = {}
    # Render the video once (every variant reads the same train split).
    cfg, _, _ = variant_cfg('e-dis', args.root)
    ds_cfg = dict(cfg.train_dataloader.dataset, pipeline=[])
    dataset = DATASETS.build(ds_cfg)
    if any(v.endswith('-cache') for v in variants):
        from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
        shutil.rmtree(paths['cache_dir'], ignore_errors=True)
        pairs = dataset.flow_pairs()
        t0 = time.perf_counter()
        PrecomputedFlow(paths['cache_dir'], paths['data_root'],
                        estimator=CACHE_ESTIMATOR, device='cpu').fill(
                            pairs, progress=False)
        info['precompute_s'] = time.perf_counter() - t0
        info['precompute_pairs'] = len(pairs)
    if any(v.startswith('j') for v in variants):
        import logging

        from mmengine.config import Config
        from mmengine.logging import MMLogger
        # init_weights() logs every parameter at INFO level
        MMLogger.get_current_instance().setLevel(logging.WARNING)
        torch.manual_seed(0)
        teacher = MODELS.build(Config.fromfile(TEACHER_CFG).model)
        teacher.init_weights()
        torch.save({'state_dict': teacher.state_dict()}, paths['teacher_ckpt'])
    return info


def spawn(args, mode, variants) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--child', mode,
           '--variants', variants, '--steps', str(args.steps),
           '--warmup', str(args.warmup), '--mem-steps', str(args.mem_steps),
           '--threads', str(args.threads), '--root', args.root]
    return run_child(cmd, f'{mode} {variants}', cwd=ROOT,
                     show_stderr_lines='cycle ')


def fmt_s(x):
    return f'{x * 1000:.0f} ms' if x < 10 else f'{x:.1f} s'


def mib(x):
    return f'{x / 2**20:.0f} MiB'


def table_rows(timing: dict, mem: dict, variants) -> dict:
    """One row per variant: medians of the timed steps, the memory run's
    figures, and the fastest step (the figure least hit by the load)."""
    med = statistics.median
    rows = {}
    for v in variants:
        t = timing['variants'][v]
        rows[v] = dict(scheme=t['scheme'], flow=t['flow'],
                       data=med(t['data']), read=med(t['flow_read']),
                       step=med(t['step']), net=med(t['flow_net']),
                       rss=mem[v]['rss_before'], peak=mem[v]['peak_delta'],
                       params=t['trainable_params'], inputs=t['inputs'],
                       steps=t['step'])
        rows[v]['total'] = rows[v]['data'] + rows[v]['step']
    for v, row in rows.items():
        row['best'] = min(row['steps'])
    return rows


def print_table(rows: dict) -> None:
    a = rows['a']
    for v, row in rows.items():
        print(f'{v}: inputs {row["inputs"]}, {row["params"]} trainable '
              'parameters, steps ' + ', '.join(f'{s:.2f}' for s in row['steps']))
    print('\n| scheme | flow | data / batch (of which flow read) | model step '
          '(of which flow net) | total = data + model | model step / a '
          '(fastest step / a\'s) | total / a | peak RSS growth over the steps '
          '| peak / a | RSS before 1st step |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for v, row in rows.items():
        read = f' ({fmt_s(row["read"])})' if row['flow'] == 'cache' else ''
        net = f' ({fmt_s(row["net"])})' if row['flow'] in FLOWS else ''
        print(f'| {LABELS[row["scheme"]]} | {LABELS[row["flow"]]} | '
              f'{fmt_s(row["data"])}{read} | {fmt_s(row["step"])}{net} | '
              f'{fmt_s(row["total"])} | {row["step"] / a["step"]:.2f} '
              f'({row["best"] / a["best"]:.2f}) | '
              f'{row["total"] / a["total"]:.2f} | '
              f'{mib(row["peak"])} | {row["peak"] / a["peak"]:.2f} | '
              f'{mib(row["rss"])} |')


def main():
    args = parse_args()
    if args.child:
        emit_result(child_time(args) if args.child == 'time'
                    else child_mem(args))
        return
    variants = [v for v in args.variants.split(',') if v != 'a']
    variants = ['a'] + variants
    print(machine_line(torch_threads_of_the_runs=args.threads,
                       steps=f'{args.warmup} warm-up + {args.steps} timed',
                       memory_over=f'{args.mem_steps} steps'), flush=True)
    t_all = time.perf_counter()
    info = prepare(args, variants)
    if 'precompute_s' in info:
        print(f'flow cache: {info["precompute_pairs"]} pairs in '
              f'{info["precompute_s"]:.2f} s (DIS fast, once, before training)',
              flush=True)
    timing = spawn(args, 'time', ','.join(variants))
    print(f'timing run: {timing["wall"]:.0f} s, load average per cycle '
          + ', '.join(f'{x:.1f}' for x in timing['loads']), flush=True)
    mem = {}
    for v in variants:
        mem[v] = spawn(args, 'mem', v)
        m = mem[v]
        print(f'memory {v:8s}: +{mib(m["peak_delta"])} over '
              f'{mib(m["rss_before"])} (steps ' + ', '.join(
                  f'{t:.2f}' for t in m['step']) + f' s; wall {m["wall"]:.0f} '
              f's; losses {m["losses"]})', flush=True)
    rows = table_rows(timing, mem, variants)
    print(f'\nall runs: {time.perf_counter() - t_all:.0f} s; peak reset via '
          f'clear_refs: {all(m["peak_reset"] for m in mem.values())}')
    print_table(rows)


if __name__ == '__main__':
    main()
