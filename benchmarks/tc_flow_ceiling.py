"""The TC that ground-truth labels score on the synthetic test videos, with
each flow source of the metric: what a perfect, perfectly stable model would
get. Below 100 is the flow's own error (exact flow scores 100).

    python benchmarks/tc_flow_ceiling.py [--videos 10] [--data-root DIR]

The data root gets the synthetic test split of the quick start (96x128,
20 frames a video). Prints a markdown table.
"""
import argparse
import platform
import tempfile

import cv2
from mmseg.registry import DATASETS, MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.evaluation.functional import temporal_consistency
from mmseg_temporal.models.flow import flow_of_images
from mmseg_temporal.utils.image import read_rgb


def test_sequences(data_root: str, videos: int):
    """``{seq_name: [data info, ...]}`` of the synthetic test split, in
    frame order (the configs' synthetic test set, with ``videos`` videos)."""
    ds = DATASETS.build(dict(
        type='SyntheticVideoDataset', data_root=data_root, split='test',
        num_videos=videos, frames_per_video=20, height=96, width=128, seed=0,
        label_start=0, label_interval=1, sample_mode='sequence',
        pipeline=[]))
    seqs = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        seqs.setdefault(info['seq_name'], []).append(info)
    return {k: sorted(v, key=lambda f: f['frame_index'])
            for k, v in sorted(seqs.items())}


def ground_truth_tc(seqs, source) -> dict:
    """TC of the label maps with flows from ``source(path_a, path_b, img_a,
    img_b)`` (a flow, or a ``(flow, valid)`` pair)."""
    preds, flows, valids = [], [], []
    for frames in seqs.values():
        preds.append([cv2.imread(f['seg_map_path'], cv2.IMREAD_UNCHANGED)
                      for f in frames])
        fl, va = [], []
        for a, b in zip(frames[:-1], frames[1:]):
            out = source(a['img_path'], b['img_path'], read_rgb(a['img_path']),
                         read_rgb(b['img_path']))
            flow, valid = out if isinstance(out, tuple) else (out, None)
            fl.append(flow)
            va.append(valid)
        flows.append(fl)
        valids.append(va)
    if all(v is None for seq in valids for v in seq):
        valids = None
    return temporal_consistency(preds, flows, num_classes=5, valids=valids)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--videos', type=int, default=10)
    p.add_argument('--data-root', default=None,
                   help='default: a temporary folder')
    args = p.parse_args()
    root = args.data_root or tempfile.mkdtemp(prefix='tc_ceiling_')
    seqs = test_sequences(root, args.videos)
    sources = {'exact (SyntheticExactFlow)': MODELS.build(
        dict(type='SyntheticExactFlow'))}
    for preset in ('fast', 'medium'):
        est = MODELS.build(dict(type='DISFlow', preset=preset))
        sources[f'DIS {preset}'] = (
            lambda a, b, ia, ib, est=est: flow_of_images(est, ia, ib))
    pairs = sum(len(v) - 1 for v in seqs.values())
    print(f'ground-truth labels of {len(seqs)} synthetic test videos '
          f'({pairs} frame pairs, 96x128), {platform.processor() or "CPU"}')
    print('\n| flow source | mTC | mTC_seq |\n| --- | --- | --- |')
    for name, source in sources.items():
        r = ground_truth_tc(seqs, source)
        print(f'| {name} | {r["mTC"]:.2f} | {r["mTC_seq"]:.2f} |')


if __name__ == '__main__':
    main()
