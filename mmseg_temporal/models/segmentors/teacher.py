"""The frozen teacher of the distillation: built from its config, loaded
once from its checkpoint (MMRazor's ``SingleTeacherDistill`` does the same
and marks it initialised so that ``init_weights`` keeps the weights)."""
from typing import Union

from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import nn

from ...utils.checkpoint import load_student_weights
from .student_config import student_model_config

__all__ = ['segmentor_cfg', 'build_frozen_teacher']


def segmentor_cfg(cfg: Union[str, dict]) -> dict:
    """The teacher's plain segmentor config (see
    :func:`~.student_config.student_model_config`: a config file, a full
    config, a model dict or a TemporalDistillSegmentor config, whose student
    is a teacher trained with TL by this package) without its own data
    preprocessor: the distillation wrapper normalises the frames once."""
    plain = dict(student_model_config(cfg))
    plain.pop('data_preprocessor', None)
    return plain


def build_frozen_teacher(cfg: dict, student: nn.Module) -> nn.Module:
    """The teacher of ``cfg = dict(config=..., checkpoint=...)``, checked
    against the student's classes, loaded, frozen and in eval mode."""
    if 'config' not in cfg:
        raise ValueError('teacher must be dict(config=..., checkpoint=...), '
                         f'got keys {sorted(cfg)}')
    teacher = MODELS.build(segmentor_cfg(cfg['config']))
    s_cls = getattr(student.decode_head, 'num_classes', None)
    t_cls = getattr(teacher.decode_head, 'num_classes', None)
    if s_cls != t_cls:
        raise ValueError(f'teacher {cfg["config"]!r} has {t_cls} classes but '
                         f'the student has {s_cls}: they must predict the '
                         'same classes')
    ckpt = cfg.get('checkpoint')
    if ckpt is None:
        print_log('TemporalDistillSegmentor: the teacher has no checkpoint '
                  '(random weights): only sensible for tests',
                  logger='current', level=30)
    else:
        trains = cfg['config'] if isinstance(cfg['config'], str) else \
            'the teacher config'
        load_student_weights(
            teacher, ckpt, role='teacher checkpoint',
            hint=f'train the teacher first (python tools/train.py {trains}) '
                 'or set model.teacher.checkpoint')
    teacher._is_init = True  # loaded once: init_weights keeps it
    teacher.requires_grad_(False)
    return teacher.eval()
