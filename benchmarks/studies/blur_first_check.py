"""Do the anti-aliased students score the same in the ``blur_first`` form?
(issue 23: the cheaper form of docs/training.md, checked on trained models.)

    OMP_NUM_THREADS=1 python benchmarks/studies/blur_first_check.py \\
        --work-dir work_dirs/aa_study [--seeds 0 1 2 3 4] [--student tiny]

Per seed, the anti-aliased student that ``antialias_study.py`` trained
(``<work-dir>/scratch/seed<s>/antialiased/iter_<iters>.pth``, the studied
form: strided convolutions evaluated densely, then blurred) is scored again
by the CamVid protocol's 15 Hz test loop with its backbone built with
``blur_first=True`` (strided convolutions blur their input and keep their
stride: equal except in the border row and column of each 3x3 one), nothing
retrained; paired differences ``blur_first - studied form`` against the
run's own ``score.json``. Cached per run in ``score_blurfirst.json``
(``--report-only``: the cached ones only, nothing scored).
"""
import os.path as osp

import torch

from mmseg_temporal.experiments.records import cached_json

from _camvid import CAMVID_ROOT, scoring_cfg
from _harness import (
    absolute_paths,
    read_scores,
    score_path,
    study_parser,
    test_figures,
    two_arm_tables,
    write_results,
)

KEYS = ('mIoU', 'mTC', 'mTC_pred', 'mVC_8')


def blur_first_figures(run_dir: str, args) -> dict:
    ckpt = osp.join(run_dir, f'iter_{args.iters}.pth')
    if not osp.exists(ckpt):
        raise FileNotFoundError(f'{ckpt}: train it with antialias_study.py first')

    def compute() -> dict:
        cfg = scoring_cfg('camvid_cpu_15hz_test.py', run_dir, args)
        backbone = cfg.model.student.backbone
        if not backbone.type.startswith('AntiAliased'):
            raise ValueError(f'{run_dir}: backbone {backbone.type} is not anti-aliased')
        backbone.blur_first = True
        return test_figures(cfg, ckpt, 'test_15hz_blurfirst')
    return cached_json(osp.join(run_dir, 'score_blurfirst.json'), compute, args.rescore)


def main(argv=None):
    p = study_parser(__doc__, 'work_dirs/aa_study', 'antialias_study_logs/blur_first', 250,
                     data_root=CAMVID_ROOT)
    p.add_argument('--iters', type=int, default=1500)
    args = absolute_paths(p.parse_args(argv))
    torch.set_num_threads(args.threads)
    runs = {}
    for seed in args.seeds:
        run_dir = osp.join(args.work_dir, 'scratch', f'seed{seed}', 'antialiased')
        studied = read_scores([(seed, score_path(run_dir))]).get(seed)
        if studied is None:
            raise FileNotFoundError(f'{score_path(run_dir)}: score the run with '
                                    'antialias_study.py first')
        runs[('studied', seed)] = dict(studied, mIoU=studied['mIoU_15hz'])
        if args.report_only:  # the cached scores only
            runs.update(read_scores([(('blur_first', seed),
                                      osp.join(run_dir, 'score_blurfirst.json'))]))
        else:
            runs[('blur_first', seed)] = blur_first_figures(run_dir, args)
    lines, paired = two_arm_tables(runs, 'blur_first', 'studied', args.seeds, KEYS)
    write_results(args.logs_to, dict(runs={f'{a}/seed{s}': v for (a, s), v in runs.items()},
                                     paired=paired), lines)


if __name__ == '__main__':
    main()
