"""Video datasets (Cityscapes sequences, CamVid, synthetic: its file format
and its exact flow source) and transforms."""
from .base_video import BaseVideoSegDataset
from .camvid_video import CamVidVideoDataset
from .cityscapes_video import CityscapesVideoDataset
from .synthetic_flow import SyntheticExactFlow
from .synthetic_video import SYNTHETIC_CLASSES, SyntheticVideoGenerator, synthetic_flow_between
from .synthetic_video_dataset import SyntheticVideoDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseVideoSegDataset', 'CamVidVideoDataset', 'CityscapesVideoDataset',
    'SyntheticVideoDataset', 'SyntheticVideoGenerator', 'SYNTHETIC_CLASSES',
    'synthetic_flow_between', 'SyntheticExactFlow'
]
