"""Export of the student of a TemporalDistillSegmentor as a plain MMSeg model.

The result is a config + checkpoint that stock MMSeg (``init_model``,
``inference_model``, ``tools/test.py``, ``benchmark.py``, mmdeploy) uses with
no ``mmseg_temporal`` import: the student's own segmentor config, a stock
``SegDataPreProcessor`` with the training normalisation, the test pipeline
of stock transforms, and a checkpoint holding only tensors and plain Python
values (so torch's default weights-only loader reads it).
"""
import copy
import os
import os.path as osp
from typing import Dict, Tuple

import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint

from ..utils.atomic import atomic_write_bytes

__all__ = ['export_student']

_STOCK_PREPROCESSOR_KEYS = ('mean', 'std', 'size', 'size_divisor', 'pad_val',
                            'seg_pad_val', 'bgr_to_rgb', 'rgb_to_bgr', 'test_cfg')


def _plain(value):
    """Tensors and plain Python only (weights-only loadable)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, 'item') and not isinstance(value, torch.Tensor):
        return value.item()  # numpy scalar
    if hasattr(value, 'tolist') and not isinstance(value, torch.Tensor):
        return value.tolist()  # numpy array
    return value


def _stock_test_pipeline(cfg: Config) -> list:
    pipeline = copy.deepcopy(cfg.get('test_pipeline'))
    if not pipeline:
        raise ValueError('the config has no test_pipeline to export')
    from mmseg.registry import TRANSFORMS
    for step in pipeline:
        t = step.get('type')
        cls = TRANSFORMS.get(t)
        if cls is None or not cls.__module__.startswith(('mmseg.', 'mmcv.')):
            raise ValueError(f'test_pipeline step {t!r} is not a stock MMSeg/'
                             'MMCV transform: the exported config could not '
                             'run without mmseg_temporal')
    return pipeline


def export_student(config: str, checkpoint: str, out_dir: str) -> Tuple[str, str]:
    """Writes ``student.py`` and ``student.pth`` into ``out_dir``.

    Args:
        config: the training config (a ``TemporalDistillSegmentor`` model, or
            a plain segmentor, exported as it is).
        checkpoint: a checkpoint of that model.
        out_dir: output folder.

    Returns:
        The paths of the config and of the checkpoint.
    """
    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    pre = copy.deepcopy(model_cfg.get('data_preprocessor') or {})
    if model_cfg.get('type') == 'TemporalDistillSegmentor':
        student = copy.deepcopy(model_cfg['student'])
        pre = pre or copy.deepcopy(student.get('data_preprocessor') or {})
        prefix = 'student.'
    else:
        student, prefix = model_cfg, ''
    stock_pre = dict(type='SegDataPreProcessor')
    stock_pre.update({k: pre[k] for k in _STOCK_PREPROCESSOR_KEYS if k in pre})
    student['data_preprocessor'] = stock_pre
    student.pop('pretrained', None)
    student.pop('init_cfg', None)
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        if isinstance(student.get(part), dict):
            student[part].pop('init_cfg', None)
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[len(prefix):]: v.detach().clone() for k, v in state.items()
             if k.startswith(prefix)}
    if not state:
        raise ValueError(f'{checkpoint}: no {prefix or "model"} weights found')
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    dataset_meta = _plain(dict(meta.get('dataset_meta') or {}))
    dataset_meta.pop('label_map', None)
    out = Config(dict(
        model=student, test_pipeline=_stock_test_pipeline(cfg),
        default_scope='mmseg', dataset_meta=dataset_meta))
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, 'student.py')
    ckpt_path = osp.join(out_dir, 'student.pth')
    atomic_write_bytes(cfg_path, out.pretty_text.encode())
    import io
    buf = io.BytesIO()
    torch.save(dict(state_dict=state,
                    meta=dict(dataset_meta=dataset_meta,
                              exported_from=osp.abspath(checkpoint))), buf)
    atomic_write_bytes(ckpt_path, buf.getvalue())
    return cfg_path, ckpt_path
