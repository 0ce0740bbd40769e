"""One segmentation model run on one frame at a time, in PyTorch or in
onnxruntime, behind one interface (what :class:`VideoInferencer` drives).

Both give the logits ``(K, H, W)`` float32 at the frame's size, preprocessed
by MMSeg's own test pipeline (``LoadImageFromNDArray`` in place of the file
loader, ``LoadAnnotations`` dropped; the resize of the model's config):

* :class:`PytorchFrameModel`: a plain MMSeg model (an exported student or
  any ``EncoderDecoder`` config; a ``TemporalDistillSegmentor`` training
  config gives its student), built by :func:`mmseg.apis.init_model`, run by
  ``model.test_step`` (MMSeg's data preprocessor, forward, resize back);
* :class:`OnnxFrameModel`: an ``.onnx`` written by
  :func:`mmseg_temporal.deploy.export_onnx`; normalisation, input size, test
  pipeline and classes come from its metadata; the logits are resized back
  with the same bilinear resize MMSeg uses. A model of fixed input shape
  refuses a frame of another aspect ratio (a ``DataError`` naming both
  shapes) instead of stretching it.

Precision: ``PytorchFrameModel(precision='bf16')`` runs the model under
``torch.autocast(dtype=torch.bfloat16)`` with channels-last weights, on a
CPU only where it has bfloat16 arithmetic
(:func:`mmseg_temporal.utils.cpu_info.check_native_bf16`; refused otherwise,
never emulated). Measured on a loaded Xeon with AMX, tiny student at
360x480: bf16 NCHW took 0.5x, bf16 channels-last 0.25-0.4x the fp32 NCHW
time. An ``OnnxFrameModel`` runs what its file holds (fp32 or int8,
metadata key ``precision``).
"""
import abc
import contextlib
import os
import os.path as osp
import time
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.errors import DataError
from ..visualization import palette_from_meta
from .model_files import check_input_file, init_student, precision_of, read_onnx_metadata

__all__ = ['PytorchFrameModel', 'OnnxFrameModel', 'build_frame_model',
           'BACKENDS', 'test_pipeline_of_arrays', 'labels_of',
           'cpu_session_options']

BACKENDS = ('pytorch', 'onnxruntime')
TORCH_PRECISIONS = ('fp32', 'bf16')
# A fixed-shape ONNX model resizes frames whose aspect ratio is within this
# of its input's (rounding of the pipeline's resize), and refuses others.
_ASPECT_TOLERANCE = 0.02


def test_pipeline_of_arrays(pipeline, source: str):
    """MMSeg's test pipeline composed for BGR arrays: the image loader
    replaced by ``LoadImageFromNDArray``, ``LoadAnnotations`` dropped."""
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    steps = [dict(p) for p in pipeline or []
             if p.get('type') != 'LoadAnnotations']
    if not steps or 'LoadImage' not in str(steps[0].get('type')):
        raise ValueError(f'{source}: the test pipeline must start with an '
                         f'image loader, got {steps[:1]}')
    steps[0] = dict(type='LoadImageFromNDArray')
    init_default_scope('mmseg')
    return Compose(steps)


def labels_of(logits: torch.Tensor) -> np.ndarray:
    """``(H, W)`` int64 class ids of ``(K, H, W)`` logits. ``max(0)``, not
    ``argmax(0)``: the same first-maximum ids, 6x faster on the CPU
    (measured 8 vs 47 ms for 5 x 360 x 480 in torch 2.13)."""
    return logits.max(0).indices.to('cpu', torch.int64).numpy()


def _tuples(value):
    """JSON's lists back to the tuples configs hold (``scale=(w, h)``)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


class _FrameModel(abc.ABC):
    """Shared parts: name, classes, palette."""

    name: str
    num_classes: int
    dataset_meta: Optional[dict]

    def _finish_init(self, name: Optional[str], source: str) -> None:
        self.name = name or default_model_name(source)
        if self.num_classes < 1:
            raise ValueError(f'{source}: cannot tell the number of classes')
        self.palette = palette_from_meta(self.dataset_meta, self.num_classes)
        names = list((self.dataset_meta or {}).get('classes') or [])
        self.class_names = names[:self.num_classes] if \
            len(names) >= self.num_classes else \
            [f'class {i}' for i in range(self.num_classes)]

    @abc.abstractmethod
    def logits(self, frame: np.ndarray) -> Tuple[torch.Tensor, Dict]:
        """``(K, H, W)`` float32 logits of a BGR frame at its size, and
        ``{'prep_ms', 'model_ms'}`` (model: the forward and the resize of
        the logits to the frame, as in MMSeg's ``test_step``)."""


def default_model_name(path: str) -> str:
    """A model's name from its file: the file name without extension, or,
    for the generic names export tools write (``student``, ``model``,
    ``end2end``), the name of the folder holding it."""
    stem = osp.splitext(osp.basename(os.fspath(path)))[0]
    if stem in ('student', 'model', 'end2end'):
        parent = osp.basename(osp.dirname(osp.abspath(path)))
        return parent or stem
    return stem


class PytorchFrameModel(_FrameModel):
    """A plain MMSeg model (config + checkpoint) on one frame at a time.

    Args:
        config: config file (plain, exported or training config).
        checkpoint: its checkpoint (read by
            :func:`mmseg_temporal.utils.checkpoint.load_student_weights`).
        device: torch device, e.g. ``'cpu'``, ``'cuda:0'``.
        name: label in the outputs (default :func:`default_model_name`).
        precision: ``'fp32'`` or ``'bf16'`` (autocast; refused with the
            reason on a CPU without bfloat16 arithmetic).
    """

    backend = 'pytorch'

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu',
                 name: Optional[str] = None, precision: str = 'fp32') -> None:
        from mmengine.config import Config

        self.precision = _check_torch_precision(precision, device, config)
        self.config = check_input_file(config, 'config file')
        self.checkpoint = check_input_file(checkpoint, 'checkpoint file')
        self.device = str(device)
        cfg = Config.fromfile(self.config)
        pipeline = cfg.get('test_pipeline') or (
            (cfg.get('test_dataloader') or {}).get('dataset') or {}).get(
                'pipeline')
        if not pipeline:
            raise ValueError(f'{self.config}: the config has no test_pipeline')
        self.pipeline = test_pipeline_of_arrays(pipeline, self.config)
        self.model = init_student(cfg, self.checkpoint, self.device)
        if self.precision == 'bf16':  # oneDNN's bf16 convs run channels-last
            self.model = self.model.to(memory_format=torch.channels_last)
        self.dataset_meta = self.model.dataset_meta
        self.num_classes = int(self.model.decode_head.num_classes)
        self._finish_init(name, self.config)

    def _sync(self) -> None:
        if self.device.startswith('cuda'):
            torch.cuda.synchronize(self.device)

    def _autocast(self):
        if self.precision == 'fp32':
            return contextlib.nullcontext()
        return torch.autocast(self.device.split(':')[0], dtype=torch.bfloat16)

    def logits(self, frame: np.ndarray) -> Tuple[torch.Tensor, Dict]:
        t0 = time.perf_counter()
        data = self.pipeline(dict(img=frame))
        batch = dict(inputs=[data['inputs']],
                     data_samples=[data['data_samples']])
        with torch.no_grad(), self._autocast():
            self._sync()
            t1 = time.perf_counter()
            result = self.model.test_step(batch)[0]
            self._sync()
        t2 = time.perf_counter()
        return result.seg_logits.data.float(), dict(
            prep_ms=(t1 - t0) * 1e3, model_ms=(t2 - t1) * 1e3)


def _check_torch_precision(precision: str, device: str, source: str) -> str:
    """The PyTorch path's precision, checked: bf16 on a CPU only where it
    has bfloat16 arithmetic (else :class:`CPUFeatureError`, one line)."""
    if precision == 'int8':
        raise ValueError(f'{source}: int8 runs in onnxruntime: export it with '
                         'tools/export_onnx.py --precision int8 and run the '
                         '.onnx')
    if precision not in TORCH_PRECISIONS:
        raise ValueError(f'precision must be one of {TORCH_PRECISIONS} for '
                         f'the PyTorch backend, got {precision!r}')
    if precision == 'bf16' and str(device).startswith('cpu'):
        from ..utils.cpu_info import check_native_bf16
        check_native_bf16(f'bf16 inference of {osp.basename(str(source))}')
    return precision


def cpu_session_options(num_threads: Optional[int] = None):
    """onnxruntime session options for a model called between other work:
    ``num_threads`` intra-op threads (default: onnxruntime's) that sleep
    instead of spinning between calls. Measured in the demo
    (benchmarks/speed/demo_fps.py, tiny student, 2 cores): spinning threads
    compete with PyTorch's resize of the logits and with the reader and
    writer threads; without spinning the model call alone went from 48.6
    to 60.5 fps and the demo from 23.1 to 38.6 fps."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if num_threads:
        opts.intra_op_num_threads = int(num_threads)
    opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return opts


class OnnxFrameModel(_FrameModel):
    """An ``.onnx`` from :func:`mmseg_temporal.deploy.export_onnx` in
    onnxruntime, one frame at a time.

    Args:
        onnx_file: the model.
        device: ``'cpu'``, or ``'cuda[:i]'`` when onnxruntime has the CUDA
            execution provider (else CPU, with a warning).
        name: label in the outputs (default :func:`default_model_name`).
        num_threads: onnxruntime intra-op threads (default: its own).
    """

    backend = 'onnxruntime'

    def __init__(self, onnx_file: str, device: str = 'cpu',
                 name: Optional[str] = None,
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        self.config = self.checkpoint = check_input_file(onnx_file, 'ONNX model')
        meta = read_onnx_metadata(onnx_file)
        self.meta, self.device = meta, 'cpu'
        self.precision = precision_of(meta)
        opts = cpu_session_options(num_threads)
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda') and \
                'CUDAExecutionProvider' in ort.get_available_providers():
            providers.insert(0, 'CUDAExecutionProvider')
        self.session = ort.InferenceSession(onnx_file, opts,
                                            providers=providers)
        self.mean = np.asarray(meta['mean'], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(meta['std'], np.float32).reshape(3, 1, 1)
        self.fixed_shape = None if meta.get('dynamic') else tuple(
            meta['input_shape'])
        self.pipeline = test_pipeline_of_arrays(
            _tuples(meta.get('test_pipeline')), onnx_file)
        self.num_classes = int(meta['num_classes'])
        self.dataset_meta = dict(classes=meta.get('classes') or None,
                                 palette=meta.get('palette') or None)
        self._finish_init(name, onnx_file)

    def _check_aspect(self, shape: Tuple[int, int],
                      frame_shape: Tuple[int, int]) -> None:
        """Refuses a frame whose aspect ratio (after the test pipeline's
        resize) is not the fixed input's: resizing it would stretch it."""
        (h, w), (ph, pw) = self.fixed_shape, shape
        if abs(ph * w - pw * h) <= _ASPECT_TOLERANCE * max(ph * w, pw * h):
            return
        raise DataError(
            f'{self.config}: the model takes a fixed {h}x{w} (HxW) input, '
            f'aspect {w / h:.3f}; this {frame_shape[0]}x{frame_shape[1]} '
            f'frame is {ph}x{pw} after the test pipeline, aspect '
            f'{pw / ph:.3f}: resizing it would stretch the image. Export '
            'with --dynamic, or with --shape H W of this video\'s aspect')

    def _input(self, frame: np.ndarray) -> np.ndarray:
        """The normalised ``(1, 3, h, w)`` float32 input of a BGR frame (a
        fixed-shape model: resized to its input when the aspect ratio is
        the same within 2 %, refused otherwise)."""
        img = self.pipeline(dict(img=frame))['inputs'].numpy()  # 3HW BGR
        if self.meta.get('bgr_to_rgb'):
            img = img[::-1]
        if self.fixed_shape and img.shape[1:] != self.fixed_shape:
            import cv2
            self._check_aspect(img.shape[1:], frame.shape[:2])
            h, w = self.fixed_shape
            img = cv2.resize(np.ascontiguousarray(img.transpose(1, 2, 0)),
                             (w, h), interpolation=cv2.INTER_LINEAR
                             ).transpose(2, 0, 1)
        img = (img.astype(np.float32) - self.mean) / self.std
        return np.ascontiguousarray(img[None])

    def input_of(self, frame: np.ndarray) -> np.ndarray:
        """The model's normalised ``(1, 3, h, w)`` float32 input of a BGR
        frame (what calibration and benchmarks feed the graph)."""
        return self._input(frame)

    def logits(self, frame: np.ndarray) -> Tuple[torch.Tensor, Dict]:
        t0 = time.perf_counter()
        x = self._input(frame)
        t1 = time.perf_counter()
        logits = torch.from_numpy(self.session.run(['logits'],
                                                   {'input': x})[0])
        if tuple(logits.shape[2:]) != frame.shape[:2]:  # as MMSeg's resize
            logits = F.interpolate(logits, size=frame.shape[:2],
                                   mode='bilinear',
                                   align_corners=bool(
                                       self.meta.get('align_corners')))
        t2 = time.perf_counter()
        return logits[0], dict(prep_ms=(t1 - t0) * 1e3,
                               model_ms=(t2 - t1) * 1e3)


def build_frame_model(model: str, weights: Optional[str] = None,
                      backend: Optional[str] = None, device: str = 'cpu',
                      name: Optional[str] = None,
                      precision: Optional[str] = None) -> _FrameModel:
    """A :class:`PytorchFrameModel` (``model`` a config, ``weights`` its
    checkpoint) or an :class:`OnnxFrameModel` (``model`` an ``.onnx``);
    ``backend=None`` picks onnxruntime for a ``.onnx`` file. ``precision``:
    the PyTorch model's (default fp32); for an ``.onnx``, ``None`` or the
    one its file holds (another is refused, naming both)."""
    backend = backend or ('onnxruntime' if str(model).endswith('.onnx')
                          else 'pytorch')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}')
    if backend == 'onnxruntime':
        if weights is not None:
            raise ValueError(f'the onnxruntime backend takes one .onnx file; '
                             f'got weights {weights!r} as well')
        onnx_model = OnnxFrameModel(model, device, name)
        if precision not in (None, onnx_model.precision):
            raise ValueError(f'{model} holds a {onnx_model.precision} model, '
                             f'not {precision}: export it with '
                             f'tools/export_onnx.py --precision {precision}')
        return onnx_model
    if weights is None:
        raise ValueError(f'the pytorch backend needs a checkpoint for '
                         f'config {model}')
    return PytorchFrameModel(model, weights, device, name, precision or 'fp32')
