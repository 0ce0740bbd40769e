"""TL on still clips over the anti-aliased student, on the CamVid-like
synthetic video (issue 23, item 5: the second data set), 5 paired seeds.

    OMP_NUM_THREADS=1 python benchmarks/studies/stillclip_synthetic_study.py \\
        [--work-dir work_dirs/stillclip_synthetic] [--seeds 0 1 2 3 4] \\
        [--base-iters 1500] [--iters 300] [--test-videos 10] [--lane K/N] \\
        [--prepare-only] [--report-only]

Per seed, the base is the anti-aliased tiny student trained from scratch
(``pspnet_tiny_baseline_video_synthetic.py`` with ``AntiAliasedResNetV1c``:
CE on the labelled frames of 8 training videos, ``--base-iters``; the
anti-aliased arm of ``antialias_synthetic_study.py``). From it, two arms
fine-tune ``--iters`` on clips made of those labelled frames
(``pspnet_tiny_tl_stillclip_synthetic.py``: StillToClip, exact flow) with
the same seed, clips and batches: ``tl_kl1`` (TL as symmetric KL, weight 1)
and ``control`` (TL weight 0). Every model (the base too) is scored by its
config's own test loop on ``--test-videos`` test videos, every frame
labelled, TC with the video's exact flow (ground truth scores 100: the
flow's ceiling). Paired ``tl_kl1 - control`` to ``--logs-to``.

Resumable: a run with its checkpoint and score is not redone; on a fresh
clone the scores recorded in ``--logs-to``'s ``results.json`` are written
back first and their runs skipped. ``--lane K/N``: N processes share the
seeds (lane K trains seeds K, K+N, ...; each seed's three runs in one
process, the fine-tunes need its base); ``--prepare-only`` renders the
videos once (run it before starting lanes).
"""
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_temporal.experiments.records import restore_scores

from _harness import (
    SYNTHETIC_PAIRED,
    absolute_paths,
    antialias_arm,
    lane,
    read_scores,
    recorded_name,
    score_cfg,
    set_shared_tc,
    study_parser,
    synthetic_cfg,
    train,
    two_arm_tables,
    write_results,
)

BASE = 'pspnet_tiny_baseline_video_synthetic.py'
STILL = 'pspnet_tiny_tl_stillclip_synthetic.py'
ARMS = dict(control=0.0, tl_kl1=1.0)  # arm -> TL weight
RUNS = ('base', *ARMS)


def run_dir(run: str, seed: int, args) -> str:
    return osp.join(args.work_dir, f'seed{seed}', run)


def base_cfg(seed: int, args) -> Config:
    cfg = synthetic_cfg(BASE, run_dir('base', seed, args), args, seed, args.base_iters)
    return antialias_arm(cfg, {})


def arm_cfg(arm: str, seed: int, args) -> Config:
    """A fine-tune from the seed's base: its student and weights, TL
    weighted by the arm."""
    base = base_cfg(seed, args)
    cfg = synthetic_cfg(STILL, run_dir(arm, seed, args), args, seed, args.iters)
    cfg.model.student = base.model.student
    cfg.load_from = osp.join(base.work_dir, f'iter_{args.base_iters}.pth')
    cfg.model.losses.tl.loss_weight = ARMS[arm]
    return cfg


def score_files(args):
    """``((run, seed), path)`` of every run's score."""
    for seed in args.seeds:
        for run in RUNS:
            yield (run, seed), osp.join(run_dir(run, seed, args), 'score.json')


def train_and_score(cfg: Config, args) -> None:
    """Trains unless its checkpoint exists, scores unless scored."""
    ckpt = train(cfg, osp.relpath(cfg.work_dir, args.work_dir).replace(osp.sep, '_'), args)
    score_cfg(cfg, ckpt, args)


def run_seed(seed: int, args) -> None:
    """The seed's base (again, if a fine-tune still needs its checkpoint)
    and the fine-tunes not yet scored."""
    pending = [arm for arm in ARMS
               if not osp.exists(osp.join(run_dir(arm, seed, args), 'score.json'))]
    if pending or not osp.exists(osp.join(run_dir('base', seed, args), 'score.json')):
        train_and_score(base_cfg(seed, args), args)
    for arm in pending:
        train_and_score(arm_cfg(arm, seed, args), args)


def report(args) -> None:
    """Means per arm, the paired differences ``tl_kl1 - control`` and the
    bases' mean."""
    scores = read_scores(score_files(args))
    seeds = [s for s in args.seeds if all((a, s) in scores for a in ARMS)]
    for s in seeds:
        set_shared_tc(scores[('tl_kl1', s)], scores[('control', s)])
    lines, paired = two_arm_tables(scores, 'tl_kl1', 'control', seeds, SYNTHETIC_PAIRED)
    bases = [scores[('base', s)] for s in args.seeds if ('base', s) in scores]
    if bases:
        means = ', '.join(f'{k} {sum(b[k] for b in bases) / len(bases):.2f}'
                          for k in ('mTC', 'mIoU'))
        lines += ['', f'bases (anti-aliased, CE from scratch, {len(bases)} seeds): {means}']
    write_results(args.logs_to, dict(
        scores={recorded_name(k): v for k, v in scores.items()}, paired=paired), lines)


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/stillclip_synthetic', 'stillclip_study_logs/synthetic',
                     100)
    p.add_argument('--base-iters', type=int, default=1500)
    p.add_argument('--iters', type=int, default=300)
    p.add_argument('--test-videos', type=int, default=10)
    p.add_argument('--prepare-only', action='store_true')
    p.add_argument('--lane', type=lane, default=(0, 1), metavar='K/N',
                   help='train only seeds K, K+N, ... (N processes, one work dir)')
    return absolute_paths(p.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # the committed logs hold every scored run: a fresh clone skips them
    restore_scores(((recorded_name(k), path) for k, path in score_files(args)),
                   osp.join(args.logs_to, 'results.json'))
    if not args.report_only:
        cfg = base_cfg(args.seeds[0], args)
        for key in ('train_dataloader', 'test_dataloader'):  # renders once
            DATASETS.build(dict(cfg[key].dataset, pipeline=[]))
        if args.prepare_only:
            return None
        lane_k, lanes = args.lane
        for seed in args.seeds[lane_k::lanes]:
            run_seed(seed, args)
            report(args)
    return report(args)


if __name__ == '__main__':
    main()
