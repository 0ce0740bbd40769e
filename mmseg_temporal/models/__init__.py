"""Models: data preprocessor, flow estimators, losses, segmentors."""
from . import flow, losses  # noqa: F401  (registers the modules)
from .data_preprocessor import VideoSegDataPreProcessor

__all__ = ['VideoSegDataPreProcessor']
