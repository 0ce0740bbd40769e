"""Training config -> the plain segmentor config of its student: the one
home of that decision (export, the exported student's loader, the teacher
and the studies use it)."""
import copy
from typing import Union

from mmengine.config import Config, ConfigDict

__all__ = ['student_model_config']

_STOCK_PREPROCESSOR_KEYS = ('mean', 'std', 'size', 'size_divisor', 'pad_val',
                            'seg_pad_val', 'bgr_to_rgb', 'rgb_to_bgr', 'test_cfg')


def student_model_config(cfg: Union[str, dict]) -> ConfigDict:
    """The plain segmentor config of a training config's model: the
    ``student`` of a ``TemporalDistillSegmentor`` (or a plain segmentor as
    it is), with a stock ``SegDataPreProcessor`` holding the training
    normalisation and no ``pretrained`` / ``init_cfg`` (the weights come
    from the checkpoint).

    ``cfg``: a config file, a full config (with ``model``) or a model
    dict."""
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    model_cfg = copy.deepcopy(cfg['model'] if 'model' in cfg else cfg)
    pre = copy.deepcopy(model_cfg.get('data_preprocessor') or {})
    kind = model_cfg.get('type')
    if getattr(kind, '__name__', kind) == 'TemporalDistillSegmentor':
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
