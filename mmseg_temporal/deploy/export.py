"""Export of the student of a TemporalDistillSegmentor as a plain MMSeg model.

The result is a config + checkpoint that stock MMSeg (``init_model``,
``inference_model``, ``tools/test.py``, ``benchmark.py``, mmdeploy) uses with
no ``mmseg_temporal`` import (a student built of types this plugin registers,
e.g. an anti-aliased backbone, gets the one ``custom_imports`` line that
imports it): the student's own segmentor config, a stock
``SegDataPreProcessor`` with the training normalisation, the test pipeline
of stock transforms, and a checkpoint holding only tensors and plain Python
values (so torch's default weights-only loader reads it).

What comes from the checkpoint is data, never code: of its
``meta['dataset_meta']`` only ``classes`` (a list of str), ``palette`` (a
list of ``[r, g, b]`` ints in 0..255, one per class) and
``reduce_zero_label`` (a bool) are exported, checked. Other keys with an
identifier name and a plain value (e.g. ``label_map``, which applies to
annotation files only) are dropped with a logged line; any other key or
value is refused with a :class:`CheckpointError` naming it. The written
config is checked to be literal data (assignments of dicts, lists,
strings and numbers, nothing else) and to read back as exactly what was
meant, the weights are checked strictly (every key and shape) against the
student model built from that config before anything is written, and both
files are written to temporary siblings, read back and checked, and only
then moved into place (:func:`~mmseg_temporal.utils.atomic.atomic_output_file`:
a failed export leaves an earlier one as it was). The export names its
source by file name and sha256 (``meta['exported_from']``,
:func:`~mmseg_temporal.utils.provenance.file_source`), not by a local path.
"""
import copy
import os.path as osp
import warnings
from typing import Tuple

import torch
from mmengine.config import Config

from ..models.segmentors.student_config import student_model_config
from ..utils.atomic import atomic_output_file, failed_sibling
from ..utils.checkpoint import check_state_dict_fits, read_checkpoint, student_state_dict
from ..utils.provenance import file_source
from .export_checks import check_literal_config, checked_dataset_meta

__all__ = ['export_student']

_ROLE = 'checkpoint to export'


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


def _lists(value):
    """``value`` with tuples as lists (how a config reads back)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def _source(checkpoint: str) -> dict:
    """The export's source: file name and sha256 (a URL as it is)."""
    path = osp.expanduser(str(checkpoint))
    return file_source(path) if osp.isfile(path) else dict(file=str(checkpoint))


def _plugin_types(model_cfg) -> list:
    """The ``type`` names in ``model_cfg`` that this plugin registers (an
    anti-aliased backbone): the exported config then imports the plugin
    with ``custom_imports``; a plain student needs no plugin."""
    from mmseg.registry import MODELS
    found = []
    if isinstance(model_cfg, dict):
        cls = MODELS.get(model_cfg['type']) if isinstance(model_cfg.get('type'), str) else None
        if cls is not None and cls.__module__.startswith('mmseg_temporal.'):
            found.append(model_cfg['type'])
        for value in model_cfg.values():
            found += _plugin_types(value)
    elif isinstance(model_cfg, (list, tuple)):
        for value in model_cfg:
            found += _plugin_types(value)
    return found


def _check_written(cfg_file: str, ckpt_file: str, model_cfg: dict,
                   meta: dict, model) -> None:
    """The written files read back as what was meant: the config's model
    and dataset_meta, and weights that fit ``model`` strictly."""
    with open(cfg_file, encoding='utf-8') as f:
        back = Config.fromstring(f.read(), '.py')
    if _lists(back.model.to_dict()) != _lists(model_cfg) or \
            _lists(dict(back.get('dataset_meta') or {})) != _lists(meta):
        raise ValueError(f'{cfg_file} does not read back as the config that '
                         'was written')
    ckpt = read_checkpoint(ckpt_file, role='exported checkpoint')
    check_state_dict_fits(model, ckpt['state_dict'], f'exported checkpoint {ckpt_file}')


def export_student(config: str, checkpoint: str, out_dir: str) -> Tuple[str, str]:
    """Writes ``student.py`` and ``student.pth`` into ``out_dir`` (see the
    module doc for what is checked first).

    Args:
        config: the training config (a ``TemporalDistillSegmentor`` model, or
            a plain segmentor, exported as it is).
        checkpoint: a checkpoint of that model.
        out_dir: output folder.

    Returns:
        The paths of the config and of the checkpoint.

    Raises:
        CheckpointError: the checkpoint is unreadable, does not fit the
            student of ``config`` or holds dataset_meta that is not exported.
        ValueError: the config cannot be exported as plain data.
    """
    from mmseg.apis import init_model
    cfg = Config.fromfile(config)
    student = student_model_config(cfg).to_dict()
    pipeline = _stock_test_pipeline(cfg)
    source = f'{_ROLE} {checkpoint}'
    ckpt = read_checkpoint(checkpoint, role=_ROLE)
    state = {k: v.detach().clone() for k, v in
             student_state_dict(ckpt, checkpoint, _ROLE).items()}
    meta = checked_dataset_meta((ckpt.get('meta') or {}).get('dataset_meta'),
                                source)
    with warnings.catch_warnings():  # MMSeg's loss-building notices
        warnings.simplefilter('ignore', UserWarning)
        model = init_model(Config(dict(model=copy.deepcopy(student),
                                       default_scope='mmseg')), None, device='cpu')
    check_state_dict_fits(model, state, source,
                          hint=f'(the model is the student of {config})')
    extra = dict(custom_imports=dict(imports=['mmseg_temporal'], allow_failed_imports=False)) \
        if _plugin_types(student) else {}
    text = Config(dict(model=student, test_pipeline=pipeline, default_scope='mmseg',
                       dataset_meta=meta, **extra)).pretty_text
    check_literal_config(text)
    cfg_path, ckpt_path = (osp.join(out_dir, f'student.{ext}') for ext in ('py', 'pth'))
    with atomic_output_file(ckpt_path, failed_sibling(ckpt_path)) as tmp_ckpt, \
            atomic_output_file(cfg_path, failed_sibling(cfg_path)) as tmp_cfg:
        torch.save(dict(state_dict=state, meta=dict(
            dataset_meta=meta, exported_from=_source(checkpoint))), tmp_ckpt)
        with open(tmp_cfg, 'w', encoding='utf-8') as f:
            f.write(text)
        _check_written(tmp_cfg, tmp_ckpt, student, meta, model)
    return cfg_path, ckpt_path


