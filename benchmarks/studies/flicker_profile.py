"""Where the single-frame baseline flickers, on the synthetic video and on
CamVid 15 Hz (issue 12, item 3): the profile of
:func:`mmseg_temporal.evaluation.functional.flicker_profile` (pixels whose
label the flow carries, split by class, boundary band vs interior, small vs
large regions).

    OMP_NUM_THREADS=1 python benchmarks/studies/flicker_profile.py \\
        [--synthetic work_dirs/paired_study/baseline ...] \\
        [--camvid-run work_dirs/camvid_study/baseline] \\
        [--camvid ../shared/data/camvid] [--out benchmarks/flicker_profile_logs]

A run directory holds a study's ``study_config.py`` and ``iter_<N>.pth``
(the last one is scored). Synthetic: the config's test split (10 videos,
96x128, exact flow and visibility). CamVid: the 15 Hz ``val`` run at its
360x480 label resolution (the model at 180x240, logits resized, as the stock
test loop), DIS ``medium`` flow. The boundary band is 1 % of the frame's
short side (1 px synthetic, 4 px CamVid), a small region is under 1 % of
the frame. Writes ``results.json`` and ``results.md``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import mmseg_temporal  # noqa: F401
from mmseg_temporal.datasets.synthetic_flow import SyntheticExactFlow
from mmseg_temporal.datasets.synthetic_video import SYNTHETIC_CLASSES
from mmseg_temporal.evaluation.functional import flicker_profile
from mmseg_temporal.flow.sources.base import build_flow_source
from mmseg_temporal.inference.frame_models import PytorchFrameModel
from mmseg_temporal.utils.cpu_info import machine_line

from _camvid import CLASS_NAMES, DIS_MEDIUM
from _sequence_data import read_label, sequences


def last_checkpoint(run_dir: str) -> str:
    ckpts = glob.glob(osp.join(run_dir, 'iter_*.pth'))
    if not ckpts:
        raise FileNotFoundError(f'{run_dir}: no iter_<N>.pth checkpoint')
    return max(ckpts, key=lambda p: int(re.findall(r'iter_(\d+)', p)[-1]))


def band_px(shape) -> int:
    return max(1, round(0.01 * min(shape)))


def frame_model(run_dir: str) -> PytorchFrameModel:
    """The run's student (its config's test pipeline, logits at the
    frame's size as in the stock test loop) from its last checkpoint."""
    return PytorchFrameModel(osp.join(run_dir, 'study_config.py'), last_checkpoint(run_dir))


def predict(model: PytorchFrameModel, bgr: np.ndarray) -> np.ndarray:
    return model.logits(bgr)[0].argmax(0).numpy()


def synthetic_profile(run_dir: str, videos: int) -> dict:
    cfg = Config.fromfile(osp.join(run_dir, 'study_config.py'))
    ds = dict(cfg.test_dataloader.dataset.to_dict(), num_videos=videos,
              label_start=0, label_interval=1)
    model, exact = frame_model(run_dir), SyntheticExactFlow()
    preds, labels, flows, valids = [], [], [], []
    for frames in sequences(ds).values():
        preds.append(np.stack([predict(model, cv2.imread(f['img_path'], cv2.IMREAD_COLOR))
                               for f in frames]))
        labels.append(np.stack([read_label(f) for f in frames]))
        pairs = [exact(a['img_path'], b['img_path']) for a, b in zip(frames, frames[1:])]
        flows.append([f for f, _ in pairs])
        valids.append([v for _, v in pairs])
    res = flicker_profile(preds, labels, flows, len(SYNTHETIC_CLASSES),
                          valids=valids, boundary_px=band_px(preds[0].shape[1:]))
    res['classes'] = list(SYNTHETIC_CLASSES)
    return res


@torch.no_grad()
def camvid_profile(run_dir: str, root: str) -> dict:
    model = frame_model(run_dir)
    ds = dict(type='CamVidVideoDataset', data_root=root,
              data_prefix=dict(img_path='val', seg_map_path='valannot'), max_frame_gap=60)
    (frames,) = sequences(ds).values()
    flow_source = build_flow_source(DIS_MEDIUM)
    preds, labels, flows, prev = [], [], [], None
    bar = ProgressBar(len(frames), file=sys.stderr)
    for info in frames:
        bgr = cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
        preds.append(predict(model, bgr))
        labels.append(read_label(info))
        if prev is not None:
            flows.append(np.asarray(flow_source(prev[0], info['img_path'], prev[1],
                                                bgr[..., ::-1].copy())[0], np.float32))
        prev = (info['img_path'], bgr[..., ::-1].copy())
        bar.update()
    res = flicker_profile([preds], [labels], [flows], len(CLASS_NAMES),
                          boundary_px=band_px(bgr.shape[:2]))
    res['classes'] = list(CLASS_NAMES)
    return res


# The profile's figures compared between sets (percent): the overall rate,
# the rate in each group and the parts of the flicker on boundaries and on
# small regions.
DISTANCE_FIGURES = (('rate',), ('boundary', 'rate'), ('interior', 'rate'),
                    ('small', 'rate'), ('large', 'rate'), ('boundary', 'share'),
                    ('small', 'share'))


def figure(res: dict, key: tuple) -> float:
    return res['rate'] if key == ('rate',) else res['groups'][key[0]][key[1]]


def profile_distance(a: dict, b: dict) -> float:
    """Sum of absolute differences (points) of :data:`DISTANCE_FIGURES`."""
    return float(sum(abs(figure(a, k) - figure(b, k)) for k in DISTANCE_FIGURES))


def _f(v: float) -> str:
    return '-' if v != v else f'{v:.1f}'


def markdown(results: dict) -> str:
    real = [r for n, r in results.items() if n.startswith('CamVid')]
    lines = ['| set | flicker % | label/flow disagree % | ' + ' | '.join(
        f'{g} rate / share / of scored' for g in ('boundary', 'interior', 'small', 'large'))
        + ' | distance to CamVid |', '| --- ' * 8 + '|']
    for name, r in results.items():
        dist = _f(profile_distance(r, real[0])) if real else '-'
        lines.append(f'| {name} | {_f(r["rate"])} | {_f(r["label_flow_disagree"])} | ' +
                     ' | '.join(' / '.join(_f(r['groups'][g][k]) for k in
                                           ('rate', 'share', 'of_scored'))
                                for g in ('boundary', 'interior', 'small', 'large')) +
                     f' | {dist} |')
    for name, r in results.items():
        pc = r['per_class']
        lines += ['', f'{name}, per class (ground truth of frame t):', '',
                  '| class | flicker rate % | share of flicker % | of scored % |',
                  '| --- | --- | --- | --- |']
        lines += [f'| {c} | {_f(pc["rate"][i])} | {_f(pc["share"][i])} | '
                  f'{_f(pc["of_scored"][i])} |' for i, c in enumerate(r['classes'])]
    lines += ['', 'distance to CamVid: the sum of the absolute differences (points) of '
              + ', '.join(' '.join(k) for k in DISTANCE_FIGURES) + '.']
    return '\n'.join(lines) + '\n'


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (np.ndarray, np.generic)):
        return x.tolist()
    return x


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--synthetic', nargs='*', default=['work_dirs/paired_study/baseline'])
    p.add_argument('--videos', type=int, default=10)
    p.add_argument('--camvid-run', default='work_dirs/camvid_study/baseline')
    p.add_argument('--camvid', default='../shared/data/camvid')
    p.add_argument('--out', default='benchmarks/flicker_profile_logs')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    init_default_scope('mmseg')
    results = {}
    for run in args.synthetic:
        results[f'synthetic ({run})'] = synthetic_profile(run, args.videos)
    if args.camvid_run and osp.isdir(osp.join(args.camvid, 'val')):
        results[f'CamVid 15 Hz ({args.camvid_run})'] = camvid_profile(args.camvid_run, args.camvid)
    os.makedirs(args.out, exist_ok=True)
    text = f'{machine_line()}\n\n' + markdown(results)
    with open(osp.join(args.out, 'results.json'), 'w') as f:
        json.dump(_jsonable(results), f, indent=1)
    with open(osp.join(args.out, 'results.md'), 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    main()
