"""What users call: export (plain MMSeg model, ONNX), per-frame video
inference (frame sources, PyTorch / onnxruntime models, the streaming
inferencer with EMA smoothing), the video demo, resumable experiment steps.

Drawing lives in :mod:`mmseg_temporal.visualization`; its public functions
are re-exported here too.
"""
from ..visualization import (
    default_palette,
    overlay_prediction,
    palette_from_meta,
    plot_tc_curve,
    side_by_side,
)
from .demo import run_video_demo
from .experiment import test_checkpoint, train_unless_done
from .export import export_student, init_student, student_model_config
from .frame_models import OnnxFrameModel, PytorchFrameModel, build_frame_model, default_model_name
from .frame_source import FrameSource, VideoInputError, open_capture
from .inferencer import EMASmoother, FramePrediction, VideoInferencer, ema_smooth_logits
from .onnx_export import OnnxParityError, export_onnx, read_onnx_metadata
from .summary import format_summary, latency_stats

__all__ = [
    'export_student', 'init_student', 'student_model_config', 'export_onnx',
    'OnnxParityError', 'read_onnx_metadata', 'FrameSource',
    'VideoInputError', 'open_capture', 'PytorchFrameModel', 'OnnxFrameModel',
    'build_frame_model', 'default_model_name',
    'VideoInferencer', 'FramePrediction', 'EMASmoother', 'ema_smooth_logits',
    'run_video_demo', 'format_summary', 'latency_stats', 'default_palette',
    'palette_from_meta', 'overlay_prediction',
    'side_by_side', 'plot_tc_curve', 'train_unless_done', 'test_checkpoint',
]
