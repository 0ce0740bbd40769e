"""Deploying a trained student: a plain-MMSeg export (config + weights that
stock MMSeg loads), an ONNX export in fp32 or int8 (parity and agreement
checked before anything is written), and the checks on both. The exported
files are read back by :mod:`mmseg_temporal.inference.model_files`."""
from .export import export_student
from .onnx_export import OnnxParityError, export_onnx

__all__ = ['export_student', 'export_onnx', 'OnnxParityError']
