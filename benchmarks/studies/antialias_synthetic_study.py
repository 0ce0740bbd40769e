"""Paired, multi-seed study of anti-aliased students on the
CamVid-like synthetic video (issue 23, item 5), scored through the
package's harness: the stock test loop and the registered metrics.

    OMP_NUM_THREADS=1 python benchmarks/studies/antialias_synthetic_study.py \\
        [--work-dir work_dirs/aa_synthetic] [--seeds 0 1 2 3 4] \\
        [--iters 1500] [--test-videos 10] [--prepare-only] [--report-only] \\
        [--student tiny|mobilenetv2]

Per seed, ``plain`` (``ResNetV1c``; ``--student mobilenetv2``: the CPU
study's narrow MobileNetV2-D8, ``MobileNetV2``) and ``antialiased``
(``AntiAliased<backbone>``: every stride-2 step dense, blurred, subsampled)
train from scratch with the same seed, batches and augmentations on the
labelled frames of 8 training videos (``pspnet_tiny_baseline_video_synthetic.py``
or ``mobilenetv2_tiny_baseline_video_synthetic.py``:
CE only, the seeded camera-like nuisances of the CamVid-like variant), and
each is scored by that config's own test loop on ``--test-videos`` test
videos, every frame labelled: ``SparseIoUMetric`` (mIoU),
``TemporalConsistencyMetric`` with the exact synthetic flow (ground truth
scores 100: the flow's ceiling), ``VideoConsistencyMetric`` (VC_8/16).
Paired differences ``antialiased - plain`` (95 % t-intervals, positive
seeds) go to ``--logs-to``. Resumable; ``--prepare-only`` renders the
videos once (run it before starting parallel processes).
"""
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

from _harness import (
    SYNTHETIC_PAIRED,
    absolute_paths,
    antialias_arm,
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

# --student: its training config (the plain arm; the anti-aliased arm uses
# AntiAliased<its backbone>)
STUDENTS = dict(tiny='pspnet_tiny_baseline_video_synthetic.py',
                mobilenetv2='mobilenetv2_tiny_baseline_video_synthetic.py')
# arm -> options of the anti-aliased backbone (None: the plain one)
ARMS = dict(plain=None, antialiased={})


def run_cfg(arm: str, seed: int, args) -> Config:
    cfg = synthetic_cfg(STUDENTS[args.student], osp.join(args.work_dir, f'seed{seed}', arm),
                        args, seed, args.iters)
    return antialias_arm(cfg, ARMS[arm])


def report(scores: dict, args) -> None:
    """Means per arm and the paired differences against ``plain``."""
    seeds = [s for s in args.seeds if all((a, s) in scores for a in ARMS)]
    for s in seeds:
        set_shared_tc(scores[('antialiased', s)], scores[('plain', s)])
    lines, paired = two_arm_tables(scores, 'antialiased', 'plain', seeds, SYNTHETIC_PAIRED)
    write_results(args.logs_to, dict(
        scores={recorded_name(k): v for k, v in scores.items()}, paired=paired), lines)


def saved_scores(args) -> dict:
    return read_scores(((arm, seed), osp.join(args.work_dir, f'seed{seed}', arm, 'score.json'))
                       for seed in args.seeds for arm in ARMS)


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/aa_synthetic', 'antialias_study_logs/synthetic', 250)
    p.add_argument('--iters', type=int, default=1500)
    p.add_argument('--test-videos', type=int, default=10)
    p.add_argument('--prepare-only', action='store_true')
    p.add_argument('--student', default='tiny', choices=list(STUDENTS))
    args = p.parse_args(argv)
    if args.student != 'tiny':  # defaults of their own: never the tiny runs
        if args.logs_to == p.get_default('logs_to'):
            args.logs_to = osp.join(args.logs_to, args.student)
        if args.work_dir == p.get_default('work_dir'):
            args.work_dir = f'{args.work_dir}_{args.student}'
    return absolute_paths(args)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.report_only:
        return report(saved_scores(args), args)
    cfg = run_cfg('plain', args.seeds[0], args)
    for key in ('train_dataloader', 'test_dataloader'):  # renders once
        DATASETS.build(dict(cfg[key].dataset, pipeline=[]))
    if args.prepare_only:
        return None
    for seed in args.seeds:  # seed-major: a cut-off run leaves paired seeds
        for arm in ARMS:
            cfg = run_cfg(arm, seed, args)
            ckpt = train(cfg, f'seed{seed}_{arm}', args)
            score_cfg(cfg, ckpt, args)
            report(saved_scores(args), args)


if __name__ == '__main__':
    main()
