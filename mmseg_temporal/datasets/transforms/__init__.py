"""Multi-frame transforms: one geometric and one photometric draw per sample."""
from .flow_loading import LoadFlow, LoadPrecomputedFlow, LoadSyntheticFlow, flow_cache_config
from .formatting import PackSequenceSegInputs, PackVideoSegInputs
from .geometric import VideoRandomCrop, VideoRandomFlip, VideoResize
from .loading import LoadAnnotationsIfAny, LoadVideoAnnotations, LoadVideoFrames
from .photometric import VideoPhotoMetricDistortion
from .still_to_clip import StillToClip

__all__ = [
    'LoadVideoFrames', 'LoadVideoAnnotations', 'LoadFlow', 'LoadSyntheticFlow',
    'LoadPrecomputedFlow', 'flow_cache_config', 'LoadAnnotationsIfAny',
    'VideoResize', 'VideoRandomCrop', 'VideoRandomFlip',
    'VideoPhotoMetricDistortion', 'PackVideoSegInputs', 'PackSequenceSegInputs',
    'StillToClip'
]
