"""Does a stronger teacher make ETC help on the synthetic video? The quick
start's ETC student (300 iterations) distilled from a teacher trained for
``--teacher-iters`` iterations instead of 300, for each seed, scored like
the quick start (10 test videos, TC with the exact flow).

    python benchmarks/synthetic_strong_teacher.py [--teacher-iters 1200]
        [--seeds 0 1] [--work-dir work_dirs/strong_teacher]
        [--data-root data/synthetic_video]

Resumable (finished steps are kept). Compare with the baseline rows of
``python tools/quickstart.py --seed S`` (docs/results.md). Prints one line
per seed and writes ``results.json`` into the work dir.
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import quickstart  # noqa: E402  (tools/quickstart.py: the same settings)

from mmseg_temporal.apis.experiment import (test_checkpoint,  # noqa: E402
                                            train_unless_done)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--teacher-iters', type=int, default=1200)
    p.add_argument('--student-iters', type=int, default=300)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--test-videos', type=int, default=10)
    p.add_argument('--work-dir', default='work_dirs/strong_teacher')
    p.add_argument('--data-root', default='data/synthetic_video')
    args = p.parse_args(argv)
    results = {}
    for seed in args.seeds:
        wd = osp.join(args.work_dir, f'teacher{args.teacher_iters}_seed{seed}')
        run = argparse.Namespace(data_root=args.data_root, seed=seed,
                                 iters=args.teacher_iters,
                                 test_videos=args.test_videos)
        teacher = train_unless_done(quickstart.load_cfg(
            'pspnet_small_teacher_tl_synthetic.py', osp.join(wd, 'teacher'),
            run))
        run.iters = args.student_iters
        cfg = quickstart.load_cfg('pspnet_tiny_etc_synthetic.py',
                                  osp.join(wd, 'etc'), run)
        cfg.model.teacher.checkpoint = teacher
        metrics = test_checkpoint(cfg, train_unless_done(cfg))
        results[seed] = {k: round(float(metrics[k]), 2)
                         for k in ('mIoU', 'mTC', 'mTC_seq')}
        print(f'seed {seed}: ETC student of a {args.teacher_iters}-iteration '
              f'teacher: {results[seed]}', flush=True)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(args=vars(args), results=results), f, indent=1)


if __name__ == '__main__':
    main()
