"""Running a per-frame model on video: frame sources (video files, folders,
cameras), frame models (PyTorch fp32/bf16, onnxruntime fp32/int8), the
streaming inferencer, the EMA over logits (plain or motion-compensated) and
its test-time segmentor, and loading what ``deploy/`` wrote."""
from .ema_segmentor import EMASmoothedSegmentor
from .frame_models import OnnxFrameModel, PytorchFrameModel, build_frame_model, default_model_name
from .frame_source import FrameSource, VideoInputError, open_capture
from .inferencer import FramePrediction, VideoInferencer
from .model_files import init_student, read_onnx_metadata
from .smoothing import EMASmoother, ema_smooth_logits

__all__ = [
    'EMASmoothedSegmentor', 'OnnxFrameModel', 'PytorchFrameModel',
    'build_frame_model', 'default_model_name', 'FrameSource',
    'VideoInputError', 'open_capture', 'FramePrediction', 'VideoInferencer',
    'init_student', 'read_onnx_metadata', 'EMASmoother', 'ema_smooth_logits'
]
