"""Reduced-precision ONNX exports: int8 by onnxruntime's static
quantisation, calibrated on real frames and checked on other frames; bf16
refused where onnxruntime cannot run it.

int8 (:func:`quantize_checked`): the checked float32 graph is quantised by
``onnxruntime.quantization.quantize_static`` in QDQ format, weights int8 per
output channel, activations uint8 (the U8S8 kernels onnxruntime's MLAS runs
with AVX2, AVX-512 VNNI and AMX alike), ranges by MinMax (or entropy /
percentile) over ``num_frames`` calibration frames. The frames come from a
video file, a folder of frames or a dataset split's image folder through
:class:`FrameSource`, preprocessed exactly as :class:`OnnxFrameModel` feeds
the model (test pipeline, normalisation, channel order). The int8 graph is
then run on *held-out* frames (other frames of the same source, or of
``heldout``) against the float32 PyTorch model; below ``min_agreement``
(argmax agreement, default 99 %) it raises :class:`OnnxParityError` with
the figures, and the export keeps the earlier file. The calibration set
(source name, frame names, sha256 of the frames) and the held-out result
are in the metadata key ``calibration``.

bf16: onnxruntime's CPU execution provider has no bfloat16 convolution
(measured on onnxruntime 1.32: a bfloat16 ``Conv`` of opset 22 fails with
NOT_IMPLEMENTED; earlier opsets do not allow the type), so an ONNX bf16
export is refused with that reason (:func:`onnx_bf16_support` probes the
installed onnxruntime); the bf16 path is PyTorch's autocast
(:class:`mmseg_temporal.inference.PytorchFrameModel` ``precision='bf16'``).
"""
import functools
import hashlib
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..inference.frame_source import FrameSource, VideoInputError
from ..utils.errors import ConfigError

__all__ = ['PRECISIONS', 'CALIBRATION_DEFAULTS', 'FrameSample',
           'check_export_precision', 'onnx_bf16_support', 'sample_frames',
           'FramesReader', 'quantize_checked', 'argmax_agreement']

PRECISIONS = ('fp32', 'bf16', 'int8')
METHODS = ('minmax', 'entropy', 'percentile')
#: Keys of ``export_onnx(calibration=...)`` and their defaults.
CALIBRATION_DEFAULTS = dict(source=None, num_frames=32, heldout=None,
                            heldout_frames=16, pattern=None, method='minmax',
                            per_channel=True, reduce_range=False)


class FrameSample:
    """Frames picked from one source: ``frames`` (BGR uint8), their
    ``names`` (file names, or ``VIDEO#index``) and the source's ``name``
    (no folder) and ``kind``."""

    def __init__(self, source: FrameSource, positions: Sequence[int]) -> None:
        self.name = osp.basename(osp.normpath(source.path))
        self.kind = source.kind
        wanted, self.frames, self.names = set(positions), [], []
        for i, frame in enumerate(source):
            if i in wanted:
                self.frames.append(frame)
                self.names.append(osp.basename(source.files[i])
                                  if source.files else f'{self.name}#{i}')
            if len(self.frames) == len(wanted):
                break
        if not self.frames:
            raise VideoInputError(f'no frame could be read from {source.path}')

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for frame in self.frames:
            digest.update(str(frame.shape).encode())
            digest.update(np.ascontiguousarray(frame).tobytes())
        return digest.hexdigest()

    def record(self) -> Dict:
        return dict(source=self.name, kind=self.kind,
                    num_frames=len(self.frames), frames=self.names,
                    sha256=self.sha256())


def check_export_precision(precision: str, calibration: Optional[dict]
                           ) -> Optional[dict]:
    """Refuses what an ONNX export of ``precision`` cannot do (one line,
    ``ValueError``); returns the calibration settings (defaults filled)
    for int8, ``None`` otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    if precision == 'bf16':
        ok, reason = onnx_bf16_support()
        raise ValueError(f'--precision bf16 for ONNX: refused, {reason}'
                         + ('' if ok else '; export fp32 or int8, or run the '
                            'PyTorch model in bf16 (VideoInferencer / '
                            'tools/video_demo.py --precision bf16)'))
    if precision == 'fp32':
        if calibration:
            raise ValueError('calibration frames are for --precision int8; '
                             'an fp32 export takes none')
        return None
    cal = dict(CALIBRATION_DEFAULTS)
    unknown = sorted(set(calibration or {}) - set(cal))
    if unknown:
        raise ConfigError(f'calibration: unknown keys {unknown}; known: '
                          f'{sorted(cal)}')
    cal.update(calibration or {})
    if not cal['source']:
        raise ConfigError('calibration.source: an int8 export needs '
                          'calibration frames (--calibration VIDEO|FOLDER)')
    for key in ('num_frames', 'heldout_frames'):
        if int(cal[key]) < 1:
            raise ConfigError(f'calibration.{key} must be >= 1, got '
                              f'{cal[key]}')
    if cal['method'] not in METHODS:
        raise ConfigError(f'calibration.method must be one of {METHODS}, '
                          f'got {cal["method"]!r}')
    for key in ('source', 'heldout'):  # readable, before any export work
        if cal[key]:
            FrameSource(cal[key], pattern=cal['pattern'])
    return cal


@functools.lru_cache(maxsize=None)
def onnx_bf16_support() -> Tuple[bool, str]:
    """``(supported, reason)``: whether the installed onnxruntime's CPU
    execution provider runs a bfloat16 ``Conv`` (a one-node graph, opset
    22, the first that allows the type)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    w = helper.make_tensor('w', TensorProto.BFLOAT16, [2, 3, 3, 3],
                           [0.] * 54)
    graph = helper.make_graph(
        [helper.make_node('Conv', ['x', 'w'], ['y'], pads=[1, 1, 1, 1])],
        'bf16_conv',
        [helper.make_tensor_value_info('x', TensorProto.BFLOAT16,
                                       [1, 3, 8, 8])],
        [helper.make_tensor_value_info('y', TensorProto.BFLOAT16, None)],
        [w])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid('', 22)])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    try:
        ort.InferenceSession(model.SerializeToString(),
                             providers=['CPUExecutionProvider'])
    except Exception as e:  # noqa: BLE001 (onnxruntime's own types)
        first = str(e).splitlines()[0][:160]
        return False, (f"onnxruntime {ort.__version__}'s CPU execution "
                       f'provider has no bfloat16 kernel for Conv ({first})')
    return True, (f'onnxruntime {ort.__version__} runs a bfloat16 Conv, but '
                  'this exporter does not convert graphs to bfloat16 yet')


def _positions(total: int, count: int) -> List[int]:
    """``count`` frame indices spread evenly over ``[0, total)``."""
    return sorted({int(round(p)) for p in np.linspace(0, total - 1, count)})


def sample_frames(cal: dict) -> Tuple[FrameSample, FrameSample]:
    """(calibration, held-out) frames of the settings ``cal``
    (:data:`CALIBRATION_DEFAULTS`). Without ``heldout``, both come from
    ``source``: ``num_frames + heldout_frames`` frames spread evenly over it
    (the first ones of a video of unknown length), every k-th of them held
    out, so no frame is in both."""
    n_cal, n_held = int(cal['num_frames']), int(cal['heldout_frames'])
    src = FrameSource(cal['source'], pattern=cal['pattern'])
    if cal['heldout']:
        held_src = FrameSource(cal['heldout'], pattern=cal['pattern'])
        cal_pos = _positions(len(src) or n_cal, n_cal)
        held_pos = _positions(len(held_src) or n_held, n_held)
        return FrameSample(src, cal_pos), FrameSample(held_src, held_pos)
    want = n_cal + n_held
    total = len(src) or want
    if total < want:
        raise ValueError(
            f'calibration source {src.path} has {total} frames, fewer than '
            f'the {n_cal} calibration + {n_held} held-out frames asked for: '
            'ask for fewer or give a separate held-out source (--heldout)')
    pos = _positions(total, want)
    held_rank = {int((j + .5) * len(pos) / n_held) for j in range(n_held)}
    held_pos = [p for r, p in enumerate(pos) if r in held_rank]
    cal_pos = [p for r, p in enumerate(pos) if r not in held_rank][:n_cal]
    return FrameSample(src, cal_pos), FrameSample(src, held_pos)


class FramesReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over model inputs
    (``(1, 3, H, W)`` float32 arrays), fed as ``{'input': x}``."""

    def __init__(self, inputs: Sequence[np.ndarray]) -> None:
        self.inputs = list(inputs)
        self._next = 0

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        if self._next >= len(self.inputs):
            return None
        self._next += 1
        return {'input': self.inputs[self._next - 1]}

    def rewind(self) -> None:
        self._next = 0


def _quantize(fp32_file: str, out_file: str, reader, cal: dict) -> None:
    """``quantize_static`` (QDQ, uint8 activations, int8 weights) of the
    graph after onnxruntime's pre-processing (shape inference, fusions)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )
    with tempfile.TemporaryDirectory() as tmp:
        pre = osp.join(tmp, 'pre.onnx')
        try:
            quant_pre_process(fp32_file, pre, skip_symbolic_shape=True)
        except Exception as e:  # noqa: BLE001 (the raw graph quantises too)
            print(f'onnxruntime quantisation pre-processing skipped '
                  f'({str(e).splitlines()[0][:120]})')
            pre = fp32_file
        method = dict(minmax=CalibrationMethod.MinMax,
                      entropy=CalibrationMethod.Entropy,
                      percentile=CalibrationMethod.Percentile)[cal['method']]
        quantize_static(
            pre, out_file, reader, quant_format=QuantFormat.QDQ,
            per_channel=bool(cal['per_channel']),
            reduce_range=bool(cal['reduce_range']),
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=method)  # MinMax keeps per-tensor min/max only


def argmax_agreement(onnx_file: str, module: torch.nn.Module,
                     inputs: Sequence[np.ndarray]) -> List[float]:
    """Per input, the share of pixels whose class (argmax of ``logits``)
    the ``.onnx`` in onnxruntime and the PyTorch ``module`` agree on."""
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    out = []
    for x in inputs:
        with torch.no_grad():
            ref = module(torch.from_numpy(x))
        ref = (ref[1] if isinstance(ref, tuple) else ref).numpy()
        got = session.run(['logits'], {'input': x})[0]
        out.append(float((got.argmax(1) == ref.argmax(1)).mean()))
    return out


def quantize_checked(fp32_file: str, out_file: str, module: torch.nn.Module,
                     cal: dict, min_agreement: float = 0.99) -> Dict:
    """Quantises the checked float32 graph ``fp32_file`` into ``out_file``
    (int8, calibrated on frames of ``cal``), checks it against the float32
    ``module`` on held-out frames and returns the ``calibration`` record
    (for the metadata). Raises :class:`OnnxParityError` with the figures
    when the argmax agreement is below ``min_agreement``."""
    from ..inference.frame_models import OnnxFrameModel
    from .onnx_export import OnnxParityError
    calib, held = sample_frames(cal)
    to_input = OnnxFrameModel(fp32_file, num_threads=1).input_of
    _quantize(fp32_file, out_file, FramesReader(
        [to_input(f) for f in calib.frames]), cal)
    per_frame = argmax_agreement(out_file, module,
                                 [to_input(f) for f in held.frames])
    agree = float(np.mean(per_frame))
    text = (f'int8 argmax agreement with the fp32 model on {len(per_frame)} '
            f'held-out frames of {held.name} (not used for calibration): '
            f'{100 * agree:.2f}% (worst frame {100 * min(per_frame):.2f}%, '
            f'minimum {100 * min_agreement:g}%); calibrated on '
            f'{len(calib.frames)} frames of {calib.name}')
    print(text)
    if agree < min_agreement:
        raise OnnxParityError(out_file, f'{text}: below the minimum; '
                              'calibrate on more or more representative '
                              'frames, or lower --min-quant-agreement')
    return dict(calib.record(), method=cal['method'],
                per_channel=bool(cal['per_channel']),
                reduce_range=bool(cal['reduce_range']), format='QDQ',
                activations='uint8', weights='int8',
                heldout=dict(held.record(), argmax_agreement=agree,
                             worst_frame_agreement=min(per_frame),
                             min_agreement=min_agreement))


