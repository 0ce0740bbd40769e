"""Video datasets (Cityscapes sequences, CamVid, synthetic) and transforms."""
from .base_video import BaseVideoSegDataset
from .camvid_video import CamVidVideoDataset
from .cityscapes_video import CityscapesVideoDataset
from .synthetic_video import SYNTHETIC_CLASSES, SyntheticVideoGenerator, synthetic_flow_between
from .synthetic_video_dataset import SyntheticVideoDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseVideoSegDataset', 'CamVidVideoDataset', 'CityscapesVideoDataset',
    'SyntheticVideoDataset', 'SyntheticVideoGenerator', 'SYNTHETIC_CLASSES',
    'synthetic_flow_between'
]
