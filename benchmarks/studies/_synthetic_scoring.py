"""Scoring of the paired studies: one scorer for every model, from saved
checkpoints, through the package's functional metrics.

On a split of the synthetic video (every frame labelled, exact flow and
visibility from its layer maps), a model's student is run frame by frame
(eval mode; a whole video is one batch, which eval-mode BN does not mix)
and scored with:

* per-class intersection / union of the predictions vs the labels (mIoU),
  also restricted to the *fast* frames (those whose fastest visible object
  moves at least as fast as the split's 75th percentile of that speed);
* per-class temporal-consistency intersection / union summed over every
  frame pair (``temporal_consistency`` with the exact flow and the exact
  visibility mask: ground truth scores 100, so any gap is the model's);
  the class means (fixed set, shared set) are taken at report time;
* the classes the model predicts anywhere in the split;
* ``mVC_8`` and ``mVC_16`` (VSPW's video consistency, no warping).

Optionally the logits are smoothed over time with the inferencer's
exponential moving average (:func:`mmseg_temporal.inference.ema_smooth_logits`,
the users' flicker fix, issue 14) before the argmax: ``s_0 = z_0``,
``s_t = alpha * s_{t-1} + (1 - alpha) * z_t`` per video, so a larger
``alpha`` smooths more.
"""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS

from mmseg_temporal.datasets.synthetic_format import (
    read_layers,
    read_velocities,
    synthetic_flow_between,
    synthetic_paths,
)
from mmseg_temporal.evaluation.functional import temporal_consistency, video_consistency
from mmseg_temporal.inference.inferencer import ema_smooth_logits
from mmseg_temporal.utils.checkpoint import load_student_weights

__all__ = ['SyntheticSplit', 'load_student', 'predict_logits',
           'score_predictions', 'score_checkpoint', 'ground_truth_scores',
           'split_of']

NUM_CLASSES = 5
VC_WINDOWS = (8, 16)


class SyntheticSplit:
    """One rendered split of the synthetic video held in memory: frames
    (BGR, as MMSeg's ``LoadImageFromFile`` reads them), labels, exact flows
    and visibility of consecutive frames, and the per-frame object speed.

    Args:
        dataset_cfg: the split's ``SyntheticVideoDataset`` config (from a
            study config's test dataloader); it renders missing videos.
        num_videos: videos of the split to hold.
    """

    def __init__(self, dataset_cfg: dict, num_videos: int) -> None:
        cfg = dict(dataset_cfg, num_videos=num_videos, pipeline=[],
                   sample_mode='sequence', label_start=0, label_interval=1)
        DATASETS.build(cfg)  # renders the split (atomic) or checks it
        root, split = cfg['data_root'], cfg['split']
        n_frames = cfg.get('frames_per_video', 20)
        self.imgs, self.labels, self.flows, self.valids = [], [], [], []
        self.speeds = []
        for k in range(num_videos):
            paths = [synthetic_paths(root, split, k, t) for t in range(n_frames)]
            vel = read_velocities(paths[0]['motion'])
            layers = [read_layers(p['layers']) for p in paths]
            self.imgs.append(np.stack([cv2.imread(p['img'], cv2.IMREAD_COLOR)
                                       for p in paths]))
            self.labels.append(np.stack([
                cv2.imread(p['label'], cv2.IMREAD_UNCHANGED) for p in paths]))
            pairs = [synthetic_flow_between(layers[t], layers[t + 1], vel, 1)
                     for t in range(n_frames - 1)]
            self.flows.append([f for f, _ in pairs])
            self.valids.append([v for _, v in pairs])
            speed = np.linalg.norm(vel, axis=1)
            self.speeds.append(np.array([
                max([speed[i] for i in np.unique(lay) if i > 0 and
                     (lay == i).sum() >= 20] or [0.0]) for lay in layers]))
        all_speeds = np.concatenate(self.speeds)
        self.fast_threshold = float(np.percentile(all_speeds, 75))
        self.fast = [s >= self.fast_threshold for s in self.speeds]
        self.gt_classes = sorted(int(c) for c in np.unique(
            np.concatenate([lab.ravel() for lab in self.labels]))
            if c < NUM_CLASSES)


def load_student(config: str, checkpoint: str) -> torch.nn.Module:
    """The per-frame student of a study checkpoint (a
    TemporalDistillSegmentor's ``student.*`` weights, read weights-only and
    loaded strictly by :func:`load_student_weights`), with the wrapper's
    normalisation attached as ``mean`` / ``std`` (RGB)."""
    cfg = Config.fromfile(config)
    student = MODELS.build(cfg.model.student)
    load_student_weights(student, checkpoint, role='study checkpoint')
    pre = cfg.model.data_preprocessor
    student.mean = torch.tensor(pre.mean, dtype=torch.float32).view(1, 3, 1, 1)
    student.std = torch.tensor(pre.std, dtype=torch.float32).view(1, 3, 1, 1)
    return student.eval()


@torch.no_grad()
def predict_logits(student: torch.nn.Module, imgs_bgr: np.ndarray) -> torch.Tensor:
    """``(T, C, H, W)`` logits at input resolution of ``(T, H, W, 3)``
    uint8 BGR frames (the data preprocessor's BGR->RGB and mean/std)."""
    x = torch.from_numpy(np.ascontiguousarray(imgs_bgr[..., ::-1]))
    x = (x.permute(0, 3, 1, 2).float() - student.mean) / student.std
    h, w = x.shape[-2:]
    metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
             ] * len(x)
    return student.encode_decode(x, metas)


def _confusion(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    keep = label < NUM_CLASSES
    idx = label[keep].astype(np.int64) * NUM_CLASSES + pred[keep]
    return np.bincount(idx, minlength=NUM_CLASSES ** 2).reshape(
        NUM_CLASSES, NUM_CLASSES)


def _iou_counts(conf: np.ndarray) -> Dict[str, List[int]]:
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    return dict(intersect=inter.tolist(), union=union.tolist())


def score_predictions(split: SyntheticSplit, preds: List[np.ndarray]) -> Dict:
    """The saved counts of one model on a split; ``preds`` one ``(T, H, W)``
    int array per video (the labels themselves give the ceiling)."""
    conf = sum(_confusion(p, lab) for p, lab in zip(preds, split.labels))
    conf_fast = sum(_confusion(p[f], lab[f]) for p, lab, f in
                    zip(preds, split.labels, split.fast))
    tc = temporal_consistency([list(p) for p in preds], split.flows,
                              NUM_CLASSES, valids=split.valids)
    predicted = sorted(int(c) for c in np.unique(
        np.concatenate([p.ravel() for p in preds])))
    out = dict(iou=_iou_counts(conf), iou_fast=_iou_counts(conf_fast),
               num_fast_frames=int(sum(f.sum() for f in split.fast)),
               fast_threshold=split.fast_threshold,
               tc=dict(intersect=[int(v) for v in tc['intersect']],
                       union=[int(v) for v in tc['union']],
                       per_seq=[float(v) for v in tc['per_seq']]),
               predicted_classes=predicted, gt_classes=split.gt_classes)
    for n in VC_WINDOWS:
        out[f'mVC_{n}'] = float(video_consistency(
            [list(p) for p in preds], [list(lab) for lab in split.labels],
            n)['mVC'])
    return out


def score_checkpoint(split: SyntheticSplit, config: str, checkpoint: str,
                     ema: Optional[Sequence[float]] = ()) -> Dict[str, Dict]:
    """``{'raw': counts, 'ema0.5': counts, ...}`` of one checkpoint."""
    student = load_student(config, checkpoint)
    logits = [predict_logits(student, imgs) for imgs in split.imgs]
    variants = {'raw': [lg.argmax(1).numpy() for lg in logits]}
    for a in ema or ():
        variants[f'ema{a}'] = [ema_smooth_logits(lg, a).argmax(1).numpy()
                               for lg in logits]
    return {name: score_predictions(split, p) for name, p in variants.items()}


def ground_truth_scores(split: SyntheticSplit) -> Dict:
    """The labels scored as predictions: the flow's ceiling (100 with exact
    flow and visibility)."""
    return score_predictions(split, [lab.astype(np.int64) for lab in split.labels])


def split_of(cfg: Config, split: str, num_videos: int) -> SyntheticSplit:
    """A split (``'test'``, ``'train'``, ...) of a study config's synthetic
    video (the test dataloader's generator and data folder)."""
    ds = cfg.test_dataloader.dataset.to_dict()
    ds['split'] = split
    return SyntheticSplit(ds, num_videos)
