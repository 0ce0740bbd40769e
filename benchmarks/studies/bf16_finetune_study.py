"""Does bf16 training on the CPU land where fp32 does? A paired,
multi-seed check (issue 21, item 3).

    OMP_NUM_THREADS=1 python benchmarks/studies/bf16_finetune_study.py \\
        --baseline work_dirs/aa_study/scratch/seed0/plain/iter_1500.pth \\
        [--work-dir work_dirs/bf16_study] [--seeds 0 1 2 3 4] [--iters 300]

Per seed, the CamVid CPU student is fine-tuned from one converged baseline
checkpoint (``--baseline``: the single-frame tiny student of the CamVid
studies) for ``--iters`` iterations of ``--config`` (default the baseline
config itself: CE on labelled frames, no flow needed) twice with the same
seed, batches and augmentations: ``fp32`` (the config's ``OptimWrapper``)
and ``bf16`` (``CPUAutocastOptimWrapper``, the switch of
``configs/_base_/schedules/bf16_cpu.py``). Both are scored by the CamVid
protocol of ``_camvid`` (stock test loop on the 15 Hz run: mIoU, mTC over
the fixed 11 classes with DIS ``medium``; mIoU on the test split). Reported:
per precision the mean and sd over seeds (fp32's sd is the seed spread
bf16 must land in), the paired difference ``bf16 - fp32`` (95 % t-interval),
and the training time of each run (``provenance.json``'s ``train_s``).
Resumable like the other studies.
"""
import json
import os.path as osp

import torch

from _camvid import CAMVID_ROOT, camvid_cfg, score
from _harness import absolute_paths, study_parser, train, two_arm_tables, write_results

PRECISIONS = ('fp32', 'bf16')
FIGURES = ('mIoU_15hz', 'mIoU_test', 'mTC', 'mTC_pred')


def run_cfg(precision: str, seed: int, args):
    cfg = camvid_cfg(args.config, osp.join(args.work_dir, f'seed{seed}', precision),
                     args, seed, args.iters, precision=precision)
    cfg.load_from = args.baseline
    return cfg


def _train_s(run_dir: str) -> float:
    path = osp.join(run_dir, 'provenance.json')
    if not osp.exists(path):
        return float('nan')
    with open(path) as f:
        return float(json.load(f).get('train_s', float('nan')))


def report(args) -> dict:
    """Means, fp32's seed spread, paired ``bf16 - fp32`` differences."""
    runs = {}
    for seed in args.seeds:
        for prec in PRECISIONS:
            run_dir = osp.join(args.work_dir, f'seed{seed}', prec)
            if osp.exists(osp.join(run_dir, 'score.json')):
                with open(osp.join(run_dir, 'score.json')) as f:
                    runs[(prec, seed)] = dict(json.load(f), train_s=_train_s(run_dir))
    lines, paired = two_arm_tables(runs, 'bf16', 'fp32', args.seeds, FIGURES + ('train_s', ))
    write_results(args.logs_to, dict(
        runs={f'{p}/seed{s}': v for (p, s), v in runs.items()}, paired=paired), lines)
    return paired


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/bf16_study', 'bf16_study_logs', 100,
                     data_root=CAMVID_ROOT)
    p.add_argument('--baseline', required=True, help='the converged checkpoint fine-tuned')
    p.add_argument('--config', default='pspnet_tiny_baseline_camvid_cpu.py',
                   help='a configs/camvid_cpu config')
    p.add_argument('--iters', type=int, default=300)
    args = absolute_paths(p.parse_args(argv))
    args.baseline, args.ema = osp.abspath(args.baseline), []
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.report_only:
        for seed in args.seeds:  # seed-major: a cut-off run leaves paired seeds
            for prec in PRECISIONS:
                cfg = run_cfg(prec, seed, args)
                ckpt = train(cfg, f'seed{seed}_{prec}', args)
                score(cfg.work_dir, ckpt, args)
    return report(args)


if __name__ == '__main__':
    main()
