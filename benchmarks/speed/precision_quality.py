"""Does quantisation cost accuracy or add flicker? A trained checkpoint's
int8 (onnxruntime) and bf16 (PyTorch autocast) versions scored against its
fp32 versions on the CamVid 15 Hz run (issue 21, item 2).

    python benchmarks/speed/precision_quality.py CONFIG CHECKPOINT \
        [--data ../shared/data/camvid] [--calib-frames 32] \
        [--heldout-frames 16] [--min-agreement 0] [--max-frames N] \
        [--work-dir DIR] [--out precision_quality.json]

CONFIG/CHECKPOINT: a trained student (what tools/export_student.py writes,
a plain MMSeg config, or a CPU-study training config, whose student is
used). The float32 ONNX export and the int8 export (calibrated on
``--calib-frames`` frames of CamVid ``train``, its own held-out check on
other ``train`` frames, enforced only with ``--min-agreement``) and the
PyTorch model in float32 and bf16 (refused, as a row, on a CPU without
bfloat16 arithmetic) each run frame by frame over the 15 Hz ``val`` run
(101 frames, 360x480; ``--max-frames`` for a short run) through the
package's frame models (:class:`OnnxFrameModel`, :class:`PytorchFrameModel`),
as the video demo runs them. Per version: mIoU against the labels (void
ignored; MMSeg's mean over classes with a non-zero union), mTC over the
fixed class set of the run's ground truth (DIS ``medium`` flow, computed
once per frame pair and shared, as the 15 Hz test config does) and the
argmax agreement with the fp32 version of the same backend; and the
differences to that fp32 version. The issue's goal: within 1 point.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import tempfile

import cv2
import numpy as np
import torch

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.evaluation.functional import temporal_consistency
from mmseg_temporal.evaluation.functional.class_sets import classes_in
from mmseg_temporal.inference.frame_models import OnnxFrameModel, PytorchFrameModel, labels_of
from mmseg_temporal.utils.atomic import atomic_write_text
from mmseg_temporal.utils.cpu_info import CPUFeatureError, cpu_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CAMVID = osp.join(ROOT, '..', 'shared', 'data', 'camvid')
VOID, IGNORE = 11, 255
VERSIONS = (('fp32', 'onnxruntime'), ('int8', 'onnxruntime'),
            ('fp32', 'pytorch'), ('bf16', 'pytorch'))


def val_run(data: str, max_frames=None):
    """The 15 Hz run: BGR frames and label maps (void -> 255), in order."""
    files = sorted(glob.glob(osp.join(data, 'val', '*.png')))[:max_frames]
    if not files:
        raise FileNotFoundError(f'no CamVid val frames in {data}/val')
    frames = [cv2.imread(f, cv2.IMREAD_COLOR) for f in files]
    labels = []
    for f in files:
        label = cv2.imread(osp.join(data, 'valannot', osp.basename(f)),
                           cv2.IMREAD_UNCHANGED).astype(np.int64)
        label[label == VOID] = IGNORE
        labels.append(label)
    return frames, labels


def dis_flows(frames):
    """DIS ``medium`` flow from each frame to the next."""
    from mmseg.registry import MODELS

    from mmseg_temporal.flow.sources.estimator import flow_of_images
    estimator = MODELS.build(dict(type='DISFlow', preset='medium'))
    return [flow_of_images(estimator, a[..., ::-1], b[..., ::-1])
            for a, b in zip(frames[:-1], frames[1:])]


def build_versions(config: str, checkpoint: str, work: str, args):
    """``{(precision, backend): frame model or refusal reason}``."""
    fp32, int8 = osp.join(work, 'fp32.onnx'), osp.join(work, 'int8.onnx')
    export_onnx(config, checkpoint, fp32)
    export_onnx(config, checkpoint, int8, precision='int8', calibration=dict(
        source=osp.join(args.data, 'train'), num_frames=args.calib_frames,
        heldout_frames=args.heldout_frames),
        min_quant_agreement=args.min_agreement)
    out = {('fp32', 'onnxruntime'): OnnxFrameModel(fp32),
           ('int8', 'onnxruntime'): OnnxFrameModel(int8),
           ('fp32', 'pytorch'): PytorchFrameModel(config, checkpoint)}
    try:
        out['bf16', 'pytorch'] = PytorchFrameModel(config, checkpoint,
                                                   precision='bf16')
    except CPUFeatureError as e:
        out['bf16', 'pytorch'] = str(e)
    return out


def miou(preds, labels, num_classes: int) -> float:
    """MMSeg's mIoU: per-class I / U summed over frames, mean over the
    classes with a non-zero union."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for p, g in zip(preds, labels):
        keep = g != IGNORE
        p, g = p[keep], g[keep]
        inter += np.bincount(p[p == g], minlength=num_classes)[:num_classes]
        union += (np.bincount(p, minlength=num_classes)[:num_classes]
                  + np.bincount(g, minlength=num_classes)[:num_classes])
    union -= inter
    return float(100 * np.mean(inter[union > 0] / union[union > 0]))


def score(versions, frames, labels, flows):
    """One row per version (a refused one names its reason)."""
    num_classes = next(m for m in versions.values()
                       if not isinstance(m, str)).num_classes
    fixed = sorted(set().union(*(classes_in(g, num_classes).tolist()
                                 for g in labels)))
    preds, rows = {}, []
    for key, model in versions.items():
        row = dict(precision=key[0], backend=key[1])
        if isinstance(model, str):
            rows.append(dict(row, refused=model))
            continue
        preds[key] = [labels_of(model.logits(f)[0]) for f in frames]
        tc = temporal_consistency([preds[key]], [flows], num_classes,
                                  classes=fixed)
        row.update(mIoU=miou(preds[key], labels, num_classes),
                   mTC=float(tc['mTC']))
        ref = preds.get(('fp32', key[1]))
        row['agreement'] = float(np.mean([(a == b).mean() for a, b in
                                          zip(preds[key], ref)]))
        rows.append(row)
    base = {r['backend']: r for r in rows if r['precision'] == 'fp32'}
    for r in rows:
        if 'mIoU' in r:
            r['d_mIoU'] = r['mIoU'] - base[r['backend']]['mIoU']
            r['d_mTC'] = r['mTC'] - base[r['backend']]['mTC']
    return rows, fixed


def print_rows(rows) -> None:
    print('| precision | backend | mIoU | mTC (fixed) | '
          'agreement vs fp32 | d mIoU | d mTC |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for r in rows:
        if 'refused' in r:
            print(f'| {r["precision"]} | {r["backend"]} | refused: '
                  f'{r["refused"][:100]} | | | | |')
            continue
        print(f'| {r["precision"]} | {r["backend"]} | {r["mIoU"]:.2f} | '
              f'{r["mTC"]:.2f} | {100 * r["agreement"]:.2f} % | '
              f'{r["d_mIoU"]:+.2f} | '
              f'{r["d_mTC"]:+.2f} |')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--data', default=CAMVID)
    p.add_argument('--calib-frames', type=int, default=32)
    p.add_argument('--heldout-frames', type=int, default=16)
    p.add_argument('--min-agreement', type=float, default=0.,
                   help="the int8 export's own held-out minimum (default 0: "
                   'score it whatever it reaches)')
    p.add_argument('--max-frames', type=int, default=None)
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--work-dir', default=None,
                   help='keep the exports here (default: a temporary folder)')
    p.add_argument('--out', default=None, help='save the rows as JSON')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    frames, labels = val_run(args.data, args.max_frames)
    flows = dis_flows(frames)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or tmp
        os.makedirs(work, exist_ok=True)
        versions = build_versions(args.config, args.checkpoint, work, args)
        rows, fixed = score(versions, frames, labels, flows)
    print(f'cpu: {cpu_model()}; {len(frames)} frames of the CamVid 15 Hz run; '
          f'mTC over the classes of its ground truth {fixed}; command: python '
          'benchmarks/speed/precision_quality.py '
          + ' '.join(sys.argv[1:] if argv is None else argv))
    print_rows(rows)
    if args.out:
        atomic_write_text(args.out, json.dumps(dict(
            rows=rows, classes=fixed, frames=len(frames),
            checkpoint=osp.basename(args.checkpoint)), indent=2))
    return rows


if __name__ == '__main__':
    main()
