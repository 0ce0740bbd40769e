"""Export of the student of a TemporalDistillSegmentor as a plain MMSeg model.

The result is a config + checkpoint that stock MMSeg (``init_model``,
``inference_model``, ``tools/test.py``, ``benchmark.py``, mmdeploy) uses with
no ``mmseg_temporal`` import: the student's own segmentor config, a stock
``SegDataPreProcessor`` with the training normalisation, the test pipeline
of stock transforms, and a checkpoint holding only tensors and plain Python
values (so torch's default weights-only loader reads it).
"""
import copy
import io
import os
import os.path as osp
from typing import Tuple

import torch
from mmengine.config import Config, ConfigDict

from ..utils.atomic import atomic_write_bytes
from ..utils.checkpoint import read_checkpoint, student_state_dict

__all__ = ['export_student', 'student_model_config']

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


def student_model_config(cfg: Config) -> ConfigDict:
    """The plain segmentor config of a training config's model: the
    ``student`` of a ``TemporalDistillSegmentor`` (or a plain segmentor as
    it is), with a stock ``SegDataPreProcessor`` holding the training
    normalisation and no ``pretrained`` / ``init_cfg`` (the weights come
    from the checkpoint)."""
    model_cfg = copy.deepcopy(cfg.model)
    pre = copy.deepcopy(model_cfg.get('data_preprocessor') or {})
    if model_cfg.get('type') == 'TemporalDistillSegmentor':
        student = copy.deepcopy(model_cfg['student'])
        pre = pre or copy.deepcopy(student.get('data_preprocessor') or {})
    else:
        student = model_cfg
    stock_pre = dict(type='SegDataPreProcessor')
    stock_pre.update({k: pre[k] for k in _STOCK_PREPROCESSOR_KEYS if k in pre})
    student['data_preprocessor'] = stock_pre
    student.pop('pretrained', None)
    student.pop('init_cfg', None)
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        if isinstance(student.get(part), dict):
            student[part].pop('init_cfg', None)
    return ConfigDict(student)


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
    student = student_model_config(cfg)
    ckpt = read_checkpoint(checkpoint, role='checkpoint to export')
    state = {k: v.detach().clone() for k, v in
             student_state_dict(ckpt, checkpoint, 'checkpoint to export').items()}
    meta = ckpt.get('meta') or {}
    dataset_meta = _plain(dict(meta.get('dataset_meta') or {}))
    dataset_meta.pop('label_map', None)
    out = Config(dict(
        model=student.to_dict(), test_pipeline=_stock_test_pipeline(cfg),
        default_scope='mmseg', dataset_meta=dataset_meta))
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, 'student.py')
    ckpt_path = osp.join(out_dir, 'student.pth')
    atomic_write_bytes(cfg_path, out.pretty_text.encode())
    buf = io.BytesIO()
    torch.save(dict(state_dict=state,
                    meta=dict(dataset_meta=dataset_meta,
                              exported_from=osp.abspath(checkpoint))), buf)
    atomic_write_bytes(ckpt_path, buf.getvalue())
    return cfg_path, ckpt_path


def init_student(config, checkpoint: str, device: str = 'cpu',
                 role: str = 'checkpoint'):
    """The plain segmentor of ``config`` (a plain MMSeg config, an exported
    student, or a ``TemporalDistillSegmentor`` training config, whose
    student is taken) with the plain-segmentor weights of ``checkpoint``
    loaded strictly, in eval mode on ``device``.

    Built by :func:`mmseg.apis.init_model`; the checkpoint is read by
    :func:`mmseg_temporal.utils.checkpoint.load_student_weights` (one clear
    line for a missing, truncated or foreign file). ``model.dataset_meta``
    is the checkpoint's ``meta['dataset_meta']``, else the config's
    ``dataset_meta``, else ``None``.
    """
    from mmseg.apis import init_model

    from ..utils.checkpoint import load_student_weights
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg.model.get('type') == 'TemporalDistillSegmentor':
        cfg = copy.deepcopy(cfg)
        cfg.model = student_model_config(cfg)
    model = init_model(cfg, None, device=device)
    ckpt = load_student_weights(model, checkpoint, role=role)
    meta = (ckpt.get('meta') or {}).get('dataset_meta') or \
        cfg.get('dataset_meta') or None
    model.dataset_meta = dict(meta) if meta else None
    return model.eval()
