"""Models: anti-aliased backbones, data preprocessor, losses, segmentors."""
from . import backbones, losses, segmentors  # noqa: F401  (registers the modules)
from .data_preprocessor import VideoSegDataPreProcessor
from .segmentors import TemporalDistillSegmentor

__all__ = ['VideoSegDataPreProcessor', 'TemporalDistillSegmentor']
