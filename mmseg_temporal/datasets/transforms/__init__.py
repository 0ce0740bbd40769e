"""Multi-frame transforms: one geometric and one photometric draw per sample."""
from .formatting import PackSequenceSegInputs, PackVideoSegInputs
from .geometric import VideoRandomCrop, VideoRandomFlip, VideoResize
from .loading import (LoadAnnotationsIfAny, LoadSyntheticFlow,
                      LoadVideoAnnotations, LoadVideoFrames)
from .photometric import VideoPhotoMetricDistortion
from .precomputed_flow import LoadPrecomputedFlow

__all__ = [
    'LoadVideoFrames', 'LoadVideoAnnotations', 'LoadSyntheticFlow',
    'LoadPrecomputedFlow', 'LoadAnnotationsIfAny',
    'VideoResize', 'VideoRandomCrop', 'VideoRandomFlip',
    'VideoPhotoMetricDistortion', 'PackVideoSegInputs', 'PackSequenceSegInputs'
]
