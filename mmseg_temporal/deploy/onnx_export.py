"""ONNX export of a plain (or exported) student, checked against PyTorch in
onnxruntime every time.

The graph's input ``input`` is the normalised image ``(N, 3, H, W)`` float32
(RGB when the model was trained with ``bgr_to_rgb``); its output ``logits``
is ``(N, K, H, W)`` float32 at the input resolution (the decode head's
logits resized bilinearly, as MMSeg's ``EncoderDecoder.encode_decode`` does)
or, with ``output='labels'``, ``labels`` ``(N, H, W)`` int64 first and
``logits`` second (``session.run(['labels'], ...)`` fetches the class ids
alone). The normalisation, the input size, the classes, the palette and the
test pipeline are in the model's ``metadata_props`` (:data:`META_KEYS`),
which :class:`mmseg_temporal.inference.OnnxFrameModel` reads.

Adaptive average pooling (PSPNet's pyramid pooling) is exported through
:class:`~.onnx_modules.ShapeGenericAdaptiveAvgPool2d` (same values, from a cumulative sum):
measured on torch 2.13, the TorchScript exporter refuses
``adaptive_avg_pool2d`` whenever the pooled sizes do not divide the feature
map, and both exporters bake the pooling windows of the sample's size into
a dynamic graph, which then fails at any other size. With it, both
exporters export every student of ``configs/``, static or dynamic
(docs/export.md). ``exporter='auto'`` tries TorchScript (seconds) and falls
back to ``dynamo=True`` (``onnxscript``; about a minute on 2 cores).
The parity check compares the ONNX graph with the unmodified model. The
graph is written to a temporary sibling of the output and checked there; it
replaces the output only when it passes, so a failed export leaves an
earlier ``.onnx`` as it was (the failed one is kept as ``NAME.failed.onnx``).
The metadata names the source config and checkpoint by file name and sha256
(``{"file": ..., "sha256": ...}``), not by local path.

``precision='int8'`` quantises the checked float32 graph with onnxruntime's
static quantisation, calibrated on real frames, and refuses it below an
argmax agreement with the float32 model on held-out frames
(:mod:`.onnx_quantize`); ``'bf16'`` is refused with the reason (onnxruntime's
CPU provider has no bfloat16 convolution). The key ``precision`` of the
metadata says which, ``calibration`` records the calibration set.
"""
import contextlib
import json
import os.path as osp
import tempfile
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from ..inference.model_files import META_KEYS, init_student
from ..utils.atomic import atomic_output_file, failed_sibling
from ..utils.provenance import file_source
from .onnx_modules import LogitsAtInputSize, shape_generic_copy
from .onnx_quantize import check_export_precision, quantize_checked

__all__ = ['export_onnx', 'OnnxParityError', 'check_onnx_parity']

EXPORTERS = ('auto', 'torchscript', 'dynamo')


class OnnxParityError(RuntimeError):
    """onnxruntime's output differs from PyTorch's past the tolerance;
    :attr:`reason` is the message without the file name."""

    def __init__(self, onnx_file: str, reason: str) -> None:
        super().__init__(f'{onnx_file}: {reason}')
        self.reason = reason


def _default_input_shape(cfg: Config) -> Tuple[int, int]:
    """(H, W) the test pipeline resizes to (its ``Resize`` scale is W, H),
    else the data preprocessor's ``size``."""
    for step in cfg.get('test_pipeline') or []:
        if step.get('type') == 'Resize' and step.get('scale'):
            w, h = step['scale']
            return int(h), int(w)
    size = (cfg.model.get('data_preprocessor') or {}).get('size')
    if size:
        return int(size[0]), int(size[1])
    raise ValueError('cannot tell the input size from the config (no test '
                     'Resize scale, no data_preprocessor size): pass '
                     'input_shape=(H, W)')


def _metadata(cfg: Config, model: nn.Module, shape, dynamic: bool,
              output: str, exporter: str, config: str, checkpoint: str,
              precision: str = 'fp32',
              calibration: Optional[Dict] = None) -> Dict[str, str]:
    pre = model.data_preprocessor
    meta = model.dataset_meta or {}
    num_classes = int(model.decode_head.num_classes)
    values = dict(
        mean=pre.mean.flatten().tolist(), std=pre.std.flatten().tolist(),
        bgr_to_rgb=bool(getattr(pre, 'channel_conversion', False)),
        input_shape=list(shape), dynamic=dynamic, output=output,
        num_classes=num_classes, classes=list(meta.get('classes') or []),
        palette=[list(map(int, c)) for c in meta.get('palette') or []],
        align_corners=bool(model.decode_head.align_corners),
        test_pipeline=list(cfg.get('test_pipeline') or []),
        exporter=exporter, source_config=file_source(config),
        source_checkpoint=file_source(checkpoint), precision=precision,
        calibration=calibration)
    return {k: json.dumps(values[k]) for k in META_KEYS}


def _add_metadata(onnx_file: str, props: Dict[str, str]) -> None:
    """Sets ``props`` in the ``metadata_props`` of the file (in place;
    keys already there are replaced)."""
    import onnx
    proto = onnx.load(onnx_file)
    kept = [p for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    with open(onnx_file, 'wb') as f:
        f.write(proto.SerializeToString())


def _torch_export(module: nn.Module, sample: torch.Tensor, path: str,
                  dynamic: bool, dynamo: bool, opset: Optional[int]) -> None:
    outputs = ['labels', 'logits'] if module.output == 'labels' else ['logits']
    kwargs = dict(input_names=['input'], output_names=outputs)
    if opset is not None:
        kwargs['opset_version'] = opset
    if dynamo:
        if dynamic:
            dim = torch.export.Dim
            kwargs['dynamic_shapes'] = ({0: dim('batch', max=64),
                                         2: dim('height', min=32, max=4096),
                                         3: dim('width', min=32, max=4096)},)
        torch.onnx.export(module, (sample,), path, dynamo=True,
                          external_data=False, verbose=False, **kwargs)
        return
    if dynamic:
        axes = {'input': {0: 'batch', 2: 'height', 3: 'width'},
                'logits': {0: 'batch', 2: 'height', 3: 'width'}}
        if 'labels' in outputs:
            axes['labels'] = {0: 'batch', 1: 'height', 2: 'width'}
        kwargs['dynamic_axes'] = axes
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(module, (sample,), path, dynamo=False, **kwargs)


def _export_graph(module: nn.Module, sample: torch.Tensor, path: str,
                  dynamic: bool, exporter: str,
                  opset: Optional[int]) -> str:
    """Writes the graph with the chosen exporter; returns the one used."""
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {EXPORTERS}, got '
                         f'{exporter!r}')
    if exporter != 'dynamo':
        try:
            _torch_export(module, sample, path, dynamic, False, opset)
            return 'torchscript'
        except Exception as e:  # noqa: BLE001 (any exporter failure)
            if exporter == 'torchscript':
                raise RuntimeError(f'TorchScript ONNX exporter failed: {e}; '
                                   "try exporter='dynamo'") from e
            first = (str(e).splitlines() or [''])[0][:160]
            print(f'the TorchScript exporter cannot export this model '
                  f'({first}); using the dynamo exporter')
    _torch_export(module, sample, path, dynamic, True, opset)
    return 'dynamo'


def _sample(shape: Sequence[int], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, *shape, generator=g)


def check_onnx_parity(onnx_file: str, module: nn.Module,
                      shapes: Sequence[Sequence[int]], atol: float = 1e-4,
                      min_agreement: float = 0.999) -> List[Dict]:
    """Runs the ``.onnx`` in onnxruntime (CPU) and ``module`` in PyTorch on
    a seeded random normalised image of each ``(H, W)`` in ``shapes``; prints
    and returns, per shape, the max abs logit difference and the argmax
    agreement. Raises :class:`OnnxParityError` when the difference exceeds
    ``atol * max(1, max |PyTorch logit|)`` (absolute for logits of order 1,
    relative beyond: float32 rounding grows with the values) or the
    agreement is below ``min_agreement``."""
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    rows = []
    for i, shape in enumerate(shapes):
        x = _sample(shape, seed=i)
        with torch.no_grad():
            ref = module(x)
        ref = (ref[1] if isinstance(ref, tuple) else ref).numpy()
        try:
            got = session.run(['logits'], {'input': x.numpy()})[0]
        except Exception as e:  # noqa: BLE001 (onnxruntime's own types)
            raise OnnxParityError(
                onnx_file, f'onnxruntime cannot run it at {shape[0]}x'
                f'{shape[1]} ({str(e).splitlines()[0][:200]}); a dynamic '
                'export of this model is not valid at other sizes: export '
                'it with a static input_shape') from e
        if got.shape != ref.shape:
            raise OnnxParityError(onnx_file, f'onnxruntime logits of shape '
                                  f'{got.shape}, PyTorch {ref.shape}')
        diff = float(np.abs(got - ref).max())
        scale = float(np.abs(ref).max())
        tol = atol * max(1., scale)  # float32 rounding grows with the logits
        agree = float((got.argmax(1) == ref.argmax(1)).mean())
        row = dict(input_shape=list(shape), max_abs_logit_diff=diff,
                   max_abs_logit=scale, tolerance=tol,
                   argmax_agreement=agree)
        text = (f'{shape[0]}x{shape[1]}: max abs logit diff {diff:.3g} '
                f'(tolerance {tol:.3g} = {atol:g} x max(1, max |logit| '
                f'{scale:.3g})), argmax agreement {100 * agree:.3f}% '
                f'(minimum {100 * min_agreement:g}%)')
        print(f'parity at {text}')
        if not (diff <= tol and agree >= min_agreement):
            raise OnnxParityError(
                onnx_file, f'onnxruntime differs from PyTorch at {text}')
        rows.append(row)
    return rows


def _write_checked(tmp: str, module: nn.Module, meta: Dict, shapes,
                   exporter: str, opset: Optional[int], atol: float,
                   min_agreement: float, cal: Optional[Dict],
                   min_quant_agreement: float) -> Tuple[str, List, Dict]:
    """Exports into ``tmp`` and checks it: the float32 graph against
    PyTorch's logits; for int8 (``cal``), the float32 graph (in a temporary
    folder) is checked, quantised into ``tmp`` and checked on held-out
    frames. Returns the exporter used, the parity rows and the
    calibration record (``None`` for fp32)."""
    with contextlib.ExitStack() as stack:
        graph = tmp if cal is None else osp.join(
            stack.enter_context(tempfile.TemporaryDirectory()), 'fp32.onnx')
        used = _export_graph(shape_generic_copy(module),
                             _sample(meta['shape']), graph, meta['dynamic'],
                             exporter, opset)
        _add_metadata(graph, _metadata(exporter=used, **meta))
        parity = check_onnx_parity(graph, module, shapes, atol, min_agreement)
        if cal is None:
            return used, parity, None
        record = quantize_checked(graph, tmp, module, cal,
                                  min_quant_agreement)
        _add_metadata(tmp, _metadata(exporter=used, precision='int8',
                                     calibration=record, **meta))
        return used, parity, record


def export_onnx(config: str, checkpoint: str, out_file: str,
                input_shape: Optional[Sequence[int]] = None,
                dynamic: bool = False, output: str = 'logits',
                exporter: str = 'auto', opset: Optional[int] = None,
                atol: float = 1e-4, min_agreement: float = 0.999,
                precision: str = 'fp32', calibration: Optional[Dict] = None,
                min_quant_agreement: float = 0.99) -> Dict:
    """Exports the plain segmentor of ``config`` + ``checkpoint`` (an
    exported student, a plain MMSeg model, or the student of a
    ``TemporalDistillSegmentor`` training config) to ``out_file`` and checks
    it against PyTorch (:func:`check_onnx_parity`; at two sizes when
    ``dynamic``).

    Args:
        config, checkpoint: the model (see :func:`init_student`).
        out_file: the ``.onnx`` path, replaced only by an export that
            passes the parity check (else kept as :func:`failed_sibling`).
        input_shape: ``(H, W)`` of the export sample (and the fixed input
            size unless ``dynamic``); default the test pipeline's resize.
        dynamic: batch, height and width dynamic.
        output: ``'logits'`` or ``'labels'`` (class ids first, see above).
        exporter: ``'auto'``, ``'torchscript'`` or ``'dynamo'``.
        opset: ONNX opset (default: the exporter's).
        atol, min_agreement: parity tolerances of the float32 graph.
        precision: ``'fp32'``, ``'int8'`` (static quantisation, needs
            ``calibration``) or ``'bf16'`` (refused, see
            :mod:`.onnx_quantize`).
        calibration: for int8, a dict of
            :data:`~.onnx_quantize.CALIBRATION_DEFAULTS` keys: ``source``
            (video file, folder of frames or a dataset split's image
            folder), ``num_frames``, ``heldout`` (another source for the
            check; default other frames of ``source``),
            ``heldout_frames``, ``pattern``, ``method``, ``per_channel``,
            ``reduce_range``.
        min_quant_agreement: the int8 graph's minimum argmax agreement with
            the float32 model on the held-out frames.

    Returns:
        dict with ``out_file``, ``exporter``, ``input_shape``, ``dynamic``,
        ``output``, ``precision``, ``parity`` (one row per checked shape)
        and, for int8, ``calibration`` (as in the metadata).
    """
    cal = check_export_precision(precision, calibration)
    cfg = Config.fromfile(config)
    model = init_student(cfg, checkpoint, 'cpu', role='checkpoint to export')
    shape = tuple(int(s) for s in (input_shape or _default_input_shape(cfg)))
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(f'input_shape must be (H, W) >= 8, got {shape}')
    module = LogitsAtInputSize(model, output).eval()
    shapes = [shape] + ([(shape[0] * 3 // 4 + 8, shape[1] * 5 // 4 + 8)]
                        if dynamic else [])
    meta = dict(cfg=cfg, model=model, shape=shape, dynamic=dynamic,
                output=output, config=config, checkpoint=checkpoint)
    failed = failed_sibling(out_file)
    try:  # write, check, then replace
        with atomic_output_file(out_file, failed=failed) as tmp:
            used, parity, record = _write_checked(
                tmp, module, meta, shapes, exporter, opset, atol,
                min_agreement, cal, min_quant_agreement)
    except OnnxParityError as e:
        raise OnnxParityError(
            out_file, f'not written: {e.reason}; the failed export is kept in '
            f'{failed} for inspection (do not deploy it), an earlier '
            f'{osp.basename(out_file)} is left as it was') from None
    return dict(out_file=out_file, exporter=used, input_shape=list(shape),
                dynamic=dynamic, output=output, precision=precision,
                parity=parity, **({} if record is None else
                                  dict(calibration=record)))
