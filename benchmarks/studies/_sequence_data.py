"""Readers of a sequence dataset's frames and labels, for the study scripts
that score without a model's test loop (the flow's ceiling, the flicker
profile)."""
from typing import Dict, List

import cv2
import numpy as np
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401  (registers the plugin's datasets)


def sequences(ds_cfg: dict) -> Dict[str, List[dict]]:
    """``{seq_name: [data info, ...]}`` of a ``sample_mode='sequence'``
    dataset, in frame order."""
    ds = DATASETS.build(dict(ds_cfg, sample_mode='sequence', pipeline=[]))
    seqs: Dict[str, List[dict]] = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        seqs.setdefault(info['seq_name'], []).append(info)
    return {k: sorted(v, key=lambda f: f['frame_index'])
            for k, v in sorted(seqs.items())}


def read_label(info: dict) -> np.ndarray:
    """A frame's label with the dataset's label map applied (CamVid's void
    11 -> 255)."""
    label = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    if label is None:
        raise FileNotFoundError(f'label not readable: {info["seg_map_path"]}')
    out = label.copy()
    for old, new in (info.get('label_map') or {}).items():
        out[label == old] = new
    return out
