"""The README's main job: the whole method on the embedded synthetic video.

On the CPU, with no data and no weights (the synthetic video is rendered
into ``--data-root``, by default ``<work-dir>/data``, on first use):

1. train the teacher (a wider PSPNet) with cross-entropy + temporal loss;
2. train the baseline student (cross-entropy only, scheme a);
3. train the +TL student (cross-entropy + temporal loss, scheme e);
4. train the ETC student (SF + PF + MF + TL from the teacher, scheme j);
5. evaluate the three students on the temporal test set (stock test loop):
   mIoU, fixed-class mTC with the exact flow, mTC_shared, mVC_8;
6. export them as plain MMSeg models and time them (interleaved runs);
7. render a side-by-side demo video and the TC-per-frame curve;

then print one table and what it means. Every step writes under
``--work-dir``; a step whose final checkpoint is already there is not
trained again (re-running resumes the job). About 7-10 minutes on 2 CPU
cores after the install.
"""
import argparse
import json
import logging
import os
import os.path as osp
import subprocess
import sys
import textwrap
import time

from mmengine.config import Config
from mmseg.apis import init_model
from mmseg.registry import DATASETS, METRICS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.evaluation.functional import shared_class_means
from mmseg_temporal.experiments import study_config
from mmseg_temporal.experiments.steps import (
    interleaved_ms_per_frame,
    test_checkpoint,
    train_unless_done,
)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SYN = osp.join(ROOT, 'configs', 'synthetic')
STUDENTS = (('baseline', 'pspnet_tiny_baseline_video_synthetic.py'),
            ('+TL', 'pspnet_tiny_tl_synthetic.py'),
            ('ETC', 'pspnet_tiny_etc_synthetic.py'))
NUM_STEPS = 7
LINE = '=' * 78
READING = (
    'Reading: one seed trained from scratch; differences between these rows '
    'are not evidence. The paired 5-seed studies in docs/results.md (students '
    'fine-tuned from one converged baseline, the same scorer) find: on this '
    "CamVid-like video the release's TL (these configs' +TL) +0.6 mTC for "
    "-0.5 mIoU, the paper's TL no effect, an EMA over the logits (alpha 0.3) "
    '+3.1 mTC for -0.7 mIoU; '
    'on real CamVid 15 Hz a strong TL trained on 1 s-gap flow lowers mTC '
    '(-2.9; -0.8 with the flow forward-backward checked), ETC from a better '
    'teacher raises it by +0.15 at no mIoU cost, and EMA by +2.7 to +5.7.')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/quickstart')
    p.add_argument('--data-root', default=None,
                   help="the synthetic video's folder (default <work-dir>/"
                        'data/synthetic_video_camvid_like: its own, so the stock '
                        'synthetic configs keep using data/synthetic_video_camvid_like)')
    p.add_argument('--iters', type=int, default=300,
                   help='training iterations of each model')
    p.add_argument('--demo-frames', type=int, default=20)
    p.add_argument('--test-videos', type=int, default=10,
                   help='synthetic test videos (20 frames each) that mIoU '
                        'and TC are measured on')
    p.add_argument('--seed', type=int, default=0,
                   help='random seed of every training run (MMEngine '
                        'randomness.seed)')
    p.add_argument('--latency-rounds', type=int, default=50,
                   help='interleaved timing rounds (median reported)')
    p.add_argument('--verbose', action='store_true',
                   help="show MMEngine's logs on the console too (they always "
                        "go to each run's log file)")
    args = p.parse_args(argv)
    if args.data_root is None:
        args.data_root = osp.join(args.work_dir, 'data', 'synthetic_video_camvid_like')
    return args


class Banners:
    """Step banners with the elapsed time of the job."""

    def __init__(self, total: int) -> None:
        self.t0, self.total, self.step = time.time(), total, 0

    def elapsed(self) -> str:
        s = int(time.time() - self.t0)
        return f'{s // 60} min {s % 60:02d} s'

    def __call__(self, text: str) -> None:
        self.step += 1
        print(f'\n{LINE}\n[{self.step}/{self.total}] {text}   (elapsed '
              f'{self.elapsed()})\n{LINE}', flush=True)


def load_cfg(name: str, work_dir: str, args: argparse.Namespace) -> Config:
    """A synthetic config set to the quick start's data, length and seed."""
    cfg = study_config(osp.join(SYN, name), work_dir, args.seed, args.iters,
                       data_root=args.data_root, log_every=50, repo_root=ROOT,
                       quiet=not args.verbose)
    cfg.test_dataloader.dataset.num_videos = args.test_videos
    evaluators = list(cfg.test_evaluator)
    if ('VideoConsistencyMetric' in METRICS.module_dict and not any(
            e['type'] == 'VideoConsistencyMetric' for e in evaluators)):
        evaluators.append(dict(type='VideoConsistencyMetric', n=(8, 16)))
    cfg.test_evaluator = evaluators
    return cfg


def evaluate(name: str, cfg: Config, ckpt: str, export_dir: str) -> dict:
    """Test loop + export of one student: its row (without latency)."""
    metrics, tc = test_checkpoint(cfg, ckpt, with_tc_result=True)
    cfg_file = osp.join(cfg.work_dir, 'config.py')
    cfg.dump(cfg_file)
    exported = export_student(cfg_file, ckpt, export_dir)
    row = dict(model=name, mIoU=float(metrics['mIoU']),
               mTC=float(metrics['mTC']),
               mTC_gt=float(metrics.get('mTC_gt', float('nan'))),
               mVC_8=float(metrics.get('mVC_8', float('nan'))),
               export=list(exported))
    if tc is not None:
        row.update(tc_per_class=[float(v) for v in tc['per_class']],
                   predicted=sorted(int(c) for c in tc['predicted_classes']),
                   class_set=sorted(int(c) for c in tc['classes']),
                   class_set_desc=str(tc.get('class_set', '')))
    return row


def add_shared_and_latency(rows, class_names, args) -> None:
    """mTC over the classes every student predicts, the never-predicted
    classes, parameters and interleaved CPU latency, into each row."""
    if all('predicted' in r for r in rows):
        means, shared = shared_class_means(
            [r['tc_per_class'] for r in rows], [r['predicted'] for r in rows],
            classes=rows[0]['class_set'])
        for r, m in zip(rows, means):
            r['mTC_shared'] = m
            r['shared_classes'] = [class_names[c] for c in shared]
            r['never_predicted'] = [class_names[c] for c in r['class_set']
                                    if c not in r['predicted']]
    models = {r['model']: init_model(*r['export'], device='cpu') for r in rows}
    times = interleaved_ms_per_frame(models, (96, 128),
                                     rounds=args.latency_rounds)
    for r in rows:
        r['params'] = sum(p.numel() for p in models[r['model']].parameters())
        r['ms'] = times[r['model']]


def run_demo(rows, args) -> str:
    """The side-by-side video and TC curve of baseline and ETC on one test
    video (DIS flow, as on real video); its output goes to demo.log beside
    the demo's folder (the demo replaces its folder whole)."""
    demo_dir = osp.join(args.work_dir, 'demo')
    frames = osp.join(args.data_root, 'test', 'video_000')
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'video_demo.py'), frames,
           '--pattern', '*_img.png', '--out-dir', demo_dir, '--no-progress',
           '--max-frames', str(args.demo_frames), '--models']
    demo_rows = [r for r in rows if r['model'] in ('baseline', 'ETC')]
    for r in demo_rows:
        cmd += r['export']
    cmd += ['--names', *[r['model'] for r in demo_rows]]
    os.makedirs(demo_dir, exist_ok=True)
    log = osp.join(args.work_dir, 'demo.log')
    with open(log, 'w') as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        with open(log) as f:
            raise SystemExit(f'video demo failed (log {log}):\n'
                             + f.read()[-3000:])
    return demo_dir


def print_table(rows, args) -> None:
    print(f'\n{LINE}\nETC on the synthetic video: test set {args.test_videos} '
          f'videos x 20 frames, {args.iters} training iterations each, '
          f'seed {args.seed}\n{LINE}')
    print(f'{"model":<9}{"params":>9}{"mIoU %":>8}{"mTC %":>8}'
          f'{"mTC_shared %":>14}{"mVC_8 %":>9}{"CPU ms/frame":>18}  never predicted')
    for r in rows:
        ms = r['ms']
        lat = f'{ms["median"]:.1f} ({ms["p10"]:.1f}-{ms["p90"]:.1f})'
        print(f'{r["model"]:<9}{r["params"]:>9,}{r["mIoU"]:>8.2f}'
              f'{r["mTC"]:>8.2f}{r.get("mTC_shared", float("nan")):>14.2f}'
              f'{r["mVC_8"]:>9.2f}{lat:>18}  '
              + (', '.join(r.get('never_predicted', [])) or '-'))
    r0 = rows[0]
    print(LINE)
    print(textwrap.fill(
        'mTC = temporal consistency with the exact flow: for each pair of '
        "consecutive test frames, frame t+1's prediction is warped back to "
        "frame t with the video's exact motion (pixels hidden in either frame "
        'left out) and compared class by class like an IoU; I and U are '
        f'pooled over all pairs; the mean runs over the {len(r0.get("class_set", []))} '
        'classes of the ground truth, a class a model never predicts counting '
        f'0. Ground truth scores {r0["mTC_gt"]:.1f} (the ceiling). mTC_shared: '
        'the same mean over the classes all three students predict ('
        + ', '.join(r0.get('shared_classes', [])) + '). mVC_8: VSPW video '
        'consistency over 8-frame windows (a constant prediction scores 100: '
        'read it beside mIoU). CPU ms/frame: median (10th-90th percentile) of '
        f'{args.latency_rounds} interleaved calls on one 96x128 frame; the '
        'three students have one architecture and one cost: ETC only changes '
        'training.', width=78))
    print(LINE)
    print(textwrap.fill(READING, width=78))
    print(LINE)


def quiet_warnings(work_dir: str) -> str:
    """Python warnings (MMSeg's deprecation notices and the like) go to
    ``<work_dir>/warnings.log`` instead of the console; returns its path."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.abspath(osp.join(work_dir, 'warnings.log'))
    logging.captureWarnings(True)
    handler = logging.FileHandler(path, mode='a')
    handler.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
    py_warnings = logging.getLogger('py.warnings')
    py_warnings.addHandler(handler)
    py_warnings.propagate = False
    return path


def main(argv=None):
    args = parse_args(argv)
    if not args.verbose:
        print("MMEngine's logs: each run's folder under "
              f'{osp.abspath(args.work_dir)} (<run>/<timestamp>/<timestamp>.log); '
              f'Python warnings: {quiet_warnings(args.work_dir)}; --verbose shows them here')
    step = Banners(NUM_STEPS)
    wd = lambda name: osp.join(args.work_dir, name)  # noqa: E731
    step(f'teacher: wider PSPNet, CE + TL, {args.iters} iterations '
         f'(data rendered into {args.data_root} on first use)')
    teacher_ckpt = train_unless_done(load_cfg(
        'pspnet_small_teacher_tl_synthetic.py', wd('teacher'), args))
    cfgs, ckpts = {}, {}
    for (name, cfg_name), what in zip(STUDENTS, (
            'CE only', 'CE + temporal loss', 'SF + PF + MF + TL from the teacher')):
        step(f'{name} student: {what}, {args.iters} iterations')
        cfgs[name] = load_cfg(cfg_name, wd(cfg_name.split('_')[2]), args)
        if cfgs[name].model.get('teacher'):
            cfgs[name].model.teacher.checkpoint = teacher_ckpt
        ckpts[name] = train_unless_done(cfgs[name])
    step(f'evaluate the three students on {args.test_videos} test videos '
         '(mIoU, mTC with the exact flow, mVC_8) and export them')
    rows = [evaluate(n, cfgs[n], ckpts[n], osp.join(args.work_dir, 'export', n))
            for n, _ in STUDENTS]
    step('latency: exported students, interleaved timing')
    class_names = DATASETS.get('SyntheticVideoDataset').METAINFO['classes']
    add_shared_and_latency(rows, list(class_names), args)
    step('demo video and TC-per-frame curve (baseline | ETC, one test video)')
    demo_dir = run_demo(rows, args)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    print_table(rows, args)
    print(f'exported students: {osp.abspath(osp.join(args.work_dir, "export"))}')
    print(f'demo video + TC curve: {osp.abspath(demo_dir)} (one test video, '
          'TC there with DIS flow\nas on real video: the curve shows where '
          'flicker happens; the table is the measurement)')
    print(f'logs and checkpoints: {osp.abspath(args.work_dir)}')
    print(f'total time: {step.elapsed()}')


if __name__ == '__main__':
    from mmseg_temporal.utils.cli import run_tool
    run_tool(main)
