"""Training-step time and peak memory of schemes a (CE), e (+TL) and j
(ETC) of the synthetic configs on the CPU, each of e and j with its flow
from a DIS ``fast`` cache in the data, or computed inside the model step by
DIS ``fast`` or FlowNet2 (random weights). The variants are built in
``_train_step_variants.py``.

Time: one child process runs every variant's data batch and training step
cycle after cycle (the order reversed every other cycle, so the ratios to
``a`` are measured side by side); medians over ``--steps`` timed cycles
after ``--warmup``, with the fastest step's ratio in brackets. Memory: each
variant alone in a fresh child, peak RSS growth over ``--mem-steps``
training steps (``VmHWM - VmRSS`` after resetting the peak counter). The
method in full, and the measured table: docs/benchmarks.md, "Training step
of schemes a, e and j".

Usage (from the repository root)::

    python benchmarks/speed/train_step.py [--steps 20] [--warmup 3]
        [--mem-steps 3] [--threads 2] [--root DIR]
        [--variants a,e-cache,e-dis,e-fn2,j-cache,j-dis,j-fn2]
"""
import argparse
import os
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time

from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, memory_status, reset_peak_rss, run_child
from _train_step_variants import (
    CACHE_ESTIMATOR,
    FLOWS,
    TEACHER_CFG,
    Variant,
    paths_under,
    setup_registries,
    variant_cfg,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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


def child_time(args) -> dict:
    """All variants in one process, steps interleaved: cycle c runs one data
    batch and one training step of every variant (order reversed every other
    cycle); the first ``warmup`` cycles are not counted."""
    import torch
    torch.set_num_threads(args.threads)
    setup_registries()
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
    setup_registries()
    v = Variant(args.variants, args.root, args.mem_steps)
    gc.collect()
    reset = reset_peak_rss()
    rss0 = memory_status()['VmRSS']
    times = [v.step(k)[0] for k in range(args.mem_steps)]
    peak = (memory_status()['VmHWM'] if reset else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return dict(variant=v.name, rss_before=rss0, peak=peak,
                peak_delta=peak - rss0, peak_reset=reset, step=times,
                losses=v.log_vars)


# ----------------------------------------------------------------------
# Parent: data, cache, teacher checkpoint, interleaved runs, table
# ----------------------------------------------------------------------
def prepare(args, variants):
    import torch
    setup_registries()
    from mmseg.registry import DATASETS, MODELS
    paths = paths_under(args.root)
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
