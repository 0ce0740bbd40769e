"""Peak memory and time of the exact (trace-identity) PF / pair-wise loss
against the naive N x N computation, forward + backward, on the CPU.

Memory: every (variant, size) runs in a fresh subprocess. The child builds
its inputs, resets the kernel's peak-RSS counter (``echo 5 >
/proc/self/clear_refs``, Linux >= 4.0), runs one forward + backward (after a
warm-up on tiny inputs, so that library start-up is not counted) and
reports ``VmHWM - VmRSS_before`` from ``/proc/self/status``: the growth of
resident memory caused by the loss, torch's CPU allocations included
(``tracemalloc`` does not see them). Time: best and median of ``--repeats``
further forward + backward runs in the same child (the best is the less
noisy figure on a shared machine).

Usage::

    python benchmarks/speed/pf_memory.py [--repeats 3] [--cases pf19_97,...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from _common import memory_status, reset_peak_rss

CASES = {
    # name: (kind, B, C_student, C_teacher, H, W)
    'pf19_97': ('pf_logits', 1, 19, 19, 97, 97),
    'pf512_65': ('pf_feats', 1, 512, 512, 65, 65),
    'pair512_65': ('pair_feats', 1, 512, 512, 65, 65),
    'pf512_33': ('pf_feats', 1, 512, 512, 33, 33),
}


def naive_distance(s1, s2, t1, t2):
    """Textbook Eq. 2 / Eq. 5: materialise both N x N maps."""
    def unit(x):
        return F.normalize(x.flatten(2), dim=1)

    a_s = torch.bmm(unit(s1).transpose(1, 2), unit(s2))
    a_t = torch.bmm(unit(t1).transpose(1, 2), unit(t2))
    return (a_s - a_t).square().mean(dim=(1, 2)).mean()


def make_fn(kind: str, variant: str):
    if variant == 'exact':
        from mmseg_temporal.models.losses import CrossFrameSimilarityLoss, IntraFrameSimilarityLoss
        if kind == 'pf_logits':
            loss = CrossFrameSimilarityLoss()
            return lambda s, t: loss(s[0], s[1], t[0], t[1])
        if kind == 'pf_feats':
            loss = CrossFrameSimilarityLoss(use_softmax=False)
            return lambda s, t: loss(s[0], s[1], t[0], t[1])
        loss = IntraFrameSimilarityLoss(pool_size=1)
        return lambda s, t: loss(s[0], t[0])
    if kind == 'pf_logits':
        return lambda s, t: naive_distance(s[0].softmax(1), s[1].softmax(1),
                                           t[0].softmax(1), t[1].softmax(1))
    if kind == 'pf_feats':
        return lambda s, t: naive_distance(s[0], s[1], t[0], t[1])
    return lambda s, t: naive_distance(s[0], s[0], t[0], t[0])


def child(case: str, variant: str, repeats: int) -> dict:
    kind, b, cs, ct, h, w = CASES[case]
    fn = make_fn(kind, variant)
    g = torch.Generator().manual_seed(0)
    s = [torch.randn(b, cs, h, w, generator=g).requires_grad_()
         for _ in range(2)]
    t = [torch.randn(b, ct, h, w, generator=g) for _ in range(2)]
    if kind == 'pair_feats':
        s, t = s[:1], t[:1]
    # Warm-up on tiny inputs: library and autograd-engine start-up costs
    # (thread pools, lazy init) are not the loss's memory.
    fn([torch.randn(b, cs, 4, 4, requires_grad=True) for _ in s],
       [torch.randn(b, ct, 4, 4) for _ in t]).backward()
    if not reset_peak_rss():
        raise OSError('/proc/self/clear_refs: the peak-RSS counter cannot be reset here')
    before = memory_status()['VmRSS']
    start = time.perf_counter()
    value = fn(s, t)
    value.backward()
    first = time.perf_counter() - start
    peak = memory_status()['VmHWM']
    times = []
    for _ in range(repeats):
        for x in s:
            x.grad = None
        start = time.perf_counter()
        fn(s, t).backward()
        times.append(time.perf_counter() - start)
    return dict(case=case, variant=variant, value=float(value),
                peak_bytes=peak - before, first_s=first,
                median_s=statistics.median(times) if times else first,
                min_s=min(times) if times else first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--cases', default=','.join(CASES))
    parser.add_argument('--child', nargs=2, metavar=('CASE', 'VARIANT'))
    args = parser.parse_args()
    if args.child:
        print('RESULT ' + json.dumps(child(*args.child, args.repeats)))
        return
    print(f'machine: nproc={os.cpu_count()} torch={torch.__version__} '
          f'threads={torch.get_num_threads()}')
    print('| case | N | C (s/t) | variant | peak RSS growth | fwd+bwd best '
          '| fwd+bwd median | loss |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    rows = {}
    for case in args.cases.split(','):
        kind, b, cs, ct, h, w = CASES[case]
        for variant in ('naive', 'exact'):
            out = subprocess.run(
                [sys.executable, __file__, '--repeats', str(args.repeats),
                 '--child', case, variant], capture_output=True, text=True,
                check=True).stdout
            res = json.loads(out.split('RESULT ', 1)[1])
            rows[case, variant] = res
            print(f'| {kind} | {h}x{w}={h * w} | {cs}/{ct} | {variant} | '
                  f'{res["peak_bytes"] / 2**20:.1f} MiB | '
                  f'{res["min_s"] * 1e3:.0f} ms | '
                  f'{res["median_s"] * 1e3:.0f} ms | {res["value"]:.8g} |',
                  flush=True)
    print()
    for case in args.cases.split(','):
        n, e = rows[case, 'naive'], rows[case, 'exact']
        rel = abs(n['value'] - e['value']) / max(abs(e['value']), 1e-30)
        print(f'{case}: memory naive/exact = '
              f'{n["peak_bytes"] / max(e["peak_bytes"], 1):.0f}x, time '
              f'naive/exact = {n["min_s"] / e["min_s"]:.2f}x (best), '
              f'relative difference of the values {rel:.1e}')


if __name__ == '__main__':
    main()
