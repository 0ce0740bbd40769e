"""Paired, multi-seed study of the temporal loss on clips made of still
frames, on top of a converged CamVid CPU student (issue 23, item 5).

    OMP_NUM_THREADS=1 python benchmarks/studies/stillclip_tl_study.py \\
        (--from-dir work_dirs/aa_study/scratch | --from-scratch) \\
        [--base antialiased] [--mix] [--work-dir work_dirs/stillclip_study] \\
        [--seeds 0 1 2 3 4] [--arms control tl_kl1] [--iters 300] [--precision bf16] \\
        [--lane K/N]

Per seed, the student of ``<from-dir>/seed<s>/<base>/iter_1500.pth`` (the
anti-aliasing study's from-scratch runs: ``plain`` or ``antialiased``) is
fine-tuned ``--iters`` iterations (default 300) with
``configs/camvid_cpu/pspnet_tiny_tl_stillclip_camvid_cpu.py``: every labelled
training frame becomes a clip (f, labelled, b) under independent random
camera motions with exact flow (``StillToClip``), CE on the labelled frame
plus TL in its symmetric-KL form. ``--from-scratch``: the ``--base``
student (its backbone plain or anti-aliased) is trained from its random
initialisation instead, ``--iters`` default 1500, like the
anti-aliasing study's runs. ``--mix``: the clips are real CamVid triplets
(DIS flow cache, filled first) of which half are replaced by still clips
(``pspnet_tiny_tl_stillclip_mixed_camvid_cpu.py``). Every arm of a seed sees
the same clips (same seed); arms differ only in TL's weight: ``control`` 0,
``tl_kl<w>`` ``w``; the ``etc`` arm adds SF + PF + MF from ``--teacher``
(``pspnet_tiny_etc_stillclip_camvid_cpu.py``: ETC with still clips; TL at
weight 1). Scored by the CamVid protocol of ``_camvid`` (stock test loop
on the 15 Hz run with DIS ``medium`` TC over the fixed 11 classes, the
test split's mIoU; EMA variants of the control with ``--ema``); paired
differences ``arm - control`` (95 % t-intervals) go to ``--logs-to``.
``--lane 0/2`` and ``--lane 1/2`` in two processes (one core each) train
the runs in two shares (with two arms: controls and TL arms, each seed's
pair finishing together). Resumable, also on a fresh clone: the scores recorded in ``--logs-to``'s
``results.json`` are written back and their runs skipped.
"""
import os
import os.path as osp

import torch
from mmengine.config import Config

from mmseg_temporal.experiments.records import restore_scores

from _camvid import CAMVID_ROOT, camvid_cfg, fill_flow_cache, report, score_run
from _harness import (
    absolute_paths,
    antialias_arm,
    lane,
    read_scores,
    score_path,
    study_parser,
    train,
)

CONFIG = 'pspnet_tiny_tl_stillclip_camvid_cpu.py'
MIXED = 'pspnet_tiny_tl_stillclip_mixed_camvid_cpu.py'
ETC = 'pspnet_tiny_etc_stillclip_camvid_cpu.py'


def tl_weight(arm: str) -> float:
    """``control`` -> 0, ``tl_kl<w>`` -> w, ``etc`` -> 1 (with SF, PF, MF)."""
    if arm == 'control':
        return 0.0
    if arm == 'etc':
        return 1.0
    try:
        weight = float(arm[len('tl_kl'):]) if arm.startswith('tl_kl') else -1.0
    except ValueError:
        weight = -1.0
    if not weight > 0:
        raise ValueError(f'arm must be control, etc or tl_kl<weight > 0>, got {arm!r}')
    return weight


# --base -> options of the anti-aliased backbone (None: the plain one)
BASES = dict(plain=None, antialiased={})


def base_run(seed: int, args) -> str:
    run = osp.join(args.from_dir, f'seed{seed}', args.base)
    ckpt = osp.join(run, 'iter_1500.pth')
    if not osp.exists(ckpt):
        raise FileNotFoundError(f'{ckpt}: the converged {args.base} student of seed '
                                f'{seed} (train it with antialias_study.py)')
    return run


def arm_cfg(arm: str, seed: int, args) -> Config:
    """The still-clip TL config for one arm and seed, with the base run's
    student (its backbone: plain or anti-aliased) and its weights, or
    (``--from-scratch``) the ``--base`` student untrained."""
    config = ETC if arm == 'etc' else MIXED if args.mix else CONFIG
    cfg = camvid_cfg(config, osp.join(args.work_dir, f'seed{seed}', arm), args, seed,
                     args.iters)
    if arm == 'etc':
        cfg.model.teacher.checkpoint = args.teacher
    if args.from_scratch:
        antialias_arm(cfg, BASES[args.base])
    else:
        run = base_run(seed, args)
        cfg.model.student = Config.fromfile(osp.join(run, 'study_config.py')).model.student
        cfg.load_from = osp.join(run, 'iter_1500.pth')
    cfg.model.losses.tl.loss_weight = tl_weight(arm)
    return cfg


def run_score_paths(seed: int, arm: str, args):
    """``(name, path)`` of every score one run of the study saves: the run's,
    and the control's EMA-smoothed ones."""
    run = osp.join(args.work_dir, f'seed{seed}', arm)
    for ema in [None] + (list(args.ema) if arm == 'control' else []):
        name = arm if ema is None else f'{arm}+ema{ema}'
        yield f'{name}/seed{seed}', score_path(run, ema)


def score_paths(args):
    for seed in args.seeds:
        for arm in args.arms:
            yield from run_score_paths(seed, arm, args)


def saved_scores(args) -> dict:
    return read_scores(score_paths(args))


def scored(seed: int, arm: str, args) -> bool:
    return all(osp.exists(path) for _, path in run_score_paths(seed, arm, args))


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/stillclip_study', 'stillclip_study_logs', 100,
                     data_root=CAMVID_ROOT)
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument('--from-dir',
                       help='the anti-aliasing study scratch folder (seed<s>/<base>/)')
    start.add_argument('--from-scratch', action='store_true',
                       help='train the --base student from scratch')
    p.add_argument('--base', choices=tuple(BASES), default='antialiased')
    p.add_argument('--mix', action='store_true',
                   help='real triplets, half replaced by still clips')
    p.add_argument('--arms', nargs='+', default=['control', 'tl_kl1'])
    p.add_argument('--iters', type=int, default=None,
                   help='default 300 (fine-tune) or 1500 (--from-scratch)')
    p.add_argument('--ema', type=float, nargs='*', default=[0.5])
    p.add_argument('--lane', type=lane, default=(0, 1), metavar='K/N',
                   help='train only runs K, K+N, K+2N, ... of the seed-major '
                        '(seed, arm) list: N processes (K = 0..N-1) share one work '
                        'dir and logs folder, each reporting all scores found')
    p.add_argument('--teacher', help="the etc arm's teacher checkpoint (base width 32, "
                   'e.g. antialias_study.py --student small, plain)')
    args = absolute_paths(p.parse_args(argv))
    args.from_dir = args.from_dir and osp.abspath(args.from_dir)
    if args.iters is None:
        args.iters = 1500 if args.from_scratch else 300
    for arm in args.arms:
        tl_weight(arm)
    if 'control' not in args.arms:
        p.error('--arms needs control (the paired reference)')
    if 'etc' in args.arms:
        if args.mix or not args.teacher or not osp.isfile(args.teacher):
            p.error(f'the etc arm needs --teacher, an existing checkpoint (got '
                    f'{args.teacher!r}), and still clips only (no --mix)')
        args.teacher = osp.abspath(args.teacher)
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # the committed logs hold every scored run: a fresh clone skips them (and
    # --report-only reports them instead of overwriting them with nothing)
    restore_scores(score_paths(args), osp.join(args.logs_to, 'results.json'))
    if not args.report_only:
        os.makedirs(args.work_dir, exist_ok=True)
        if args.mix:
            fill_flow_cache(args)
        lane_k, lanes = args.lane
        runs = [(seed, arm) for seed in args.seeds for arm in args.arms]  # seed-major:
        for seed, arm in runs[lane_k::lanes]:  # a cut-off study leaves paired seeds
            if scored(seed, arm, args):
                continue
            cfg = arm_cfg(arm, seed, args)
            ckpt = train(cfg, f'seed{seed}_{arm}', args)
            score_run(cfg.work_dir, ckpt, args, with_ema=arm == 'control')
            report(saved_scores(args), args)  # after every run: the logs stay current
    report(saved_scores(args), args)


if __name__ == '__main__':
    main()
