"""Reading what the deploy step wrote: an exported student (config +
checkpoint, or a training config whose student is taken) and the metadata
of an exported ``.onnx``. The runtime reads them here; ``deploy/`` writes
them (and checks them by reading them back through this module)."""
import copy
import json
import os
import os.path as osp
from typing import Dict

from mmengine.config import Config

from ..models.segmentors.student_config import student_model_config

__all__ = ['init_student', 'read_onnx_metadata', 'precision_of',
           'check_input_file', 'META_KEYS']

META_KEYS = ('mean', 'std', 'bgr_to_rgb', 'input_shape', 'dynamic', 'output',
             'num_classes', 'classes', 'palette', 'align_corners',
             'test_pipeline', 'exporter', 'source_config',
             'source_checkpoint', 'precision', 'calibration')


def check_input_file(path, what: str) -> str:
    """``path`` as a string if it is a file, else a ``FileNotFoundError``
    naming ``what`` and the path."""
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


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


def read_onnx_metadata(onnx_file: str) -> Dict:
    """The :data:`META_KEYS` of an exported ``.onnx`` (JSON-decoded)."""
    import onnx
    model = onnx.load(onnx_file, load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    missing = [k for k in ('mean', 'std', 'num_classes', 'output')
               if k not in props]
    if missing:
        raise ValueError(f'{onnx_file}: not exported by mmseg_temporal '
                         f'(metadata_props lack {missing}); export it with '
                         'tools/export_onnx.py')
    return {k: json.loads(v) for k, v in props.items() if k in META_KEYS}


def precision_of(meta: Dict) -> str:
    """The precision an exported ``.onnx`` records (``fp32`` for files
    written before precisions existed)."""
    return str(meta.get('precision') or 'fp32')
