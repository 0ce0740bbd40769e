"""SyntheticVideoDataset: the project's procedural video as an MMSeg dataset."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmseg.registry import DATASETS

from .base_video import BaseVideoSegDataset
from .synthetic_format import fastest_object_speed, read_layers, read_velocities, synthetic_paths
from .synthetic_split import write_synthetic_split
from .synthetic_video import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE, SyntheticVideoGenerator

__all__ = ['SyntheticVideoDataset']

# Video indices of the splits: disjoint, so train and val never share a video.
_SPLIT_FIRST_VIDEO = dict(train=0, val=10000, test=20000)


@DATASETS.register_module()
class SyntheticVideoDataset(BaseVideoSegDataset):
    """Moving textured objects over a panning background, exact labels on
    every frame and exact flow between any two frames.

    The videos are rendered once into ``data_root/<split>`` (each video
    atomically, with a manifest of the generator parameters; see
    :mod:`.synthetic_split`) and then read like any other video dataset, so
    stock MMSeg loaders work on them. One folder serves any ``num_videos``:
    the first ``num_videos`` videos on disk are read and only missing ones
    are rendered (other generator parameters are refused, naming the keys). Frames are labelled
    every ``label_interval`` frames starting at ``label_start`` (all frames
    have labels on disk; the others are served as unlabelled neighbours, as
    in Cityscapes; ``label_path`` names every frame's label). Every frame
    carries ``object_speed``, the speed (pixels/frame) of its fastest
    visible object (:func:`.synthetic_format.fastest_object_speed`), which
    ``PackSequenceSegInputs`` packs as metainfo and ``SparseIoUMetric``'s
    ``subset`` scores the fast frames by. Beside each
    image lie its layer map and its video's motion file
    (:mod:`mmseg_temporal.datasets.synthetic_format`), from which
    ``LoadFlow(source=dict(type='SyntheticExactFlow'))`` (alias
    ``LoadSyntheticFlow``) serves exact flow.

    Args:
        data_root: folder that holds (or will hold) the rendered splits.
        split: ``'train'``, ``'val'`` or ``'test'`` (disjoint videos).
        num_videos, frames_per_video: size of the split.
        height, width, seed, num_objects, max_object_speed,
            max_camera_speed, nuisance: generator parameters (``nuisance``:
            seeded causes of flicker, off by default; see
            :mod:`.synthetic_nuisance`).
        label_start, label_interval: which frames count as labelled.
        **kwargs: :class:`BaseVideoSegDataset` arguments (sample_mode,
            offsets, pipeline, ...).
    """

    METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE)

    def __init__(self,
                 data_root: str = 'data/synthetic_video',
                 split: str = 'train',
                 num_videos: int = 8,
                 frames_per_video: int = 20,
                 height: int = 96,
                 width: int = 128,
                 seed: int = 0,
                 num_objects: Sequence[int] = (3, 6),
                 max_object_speed: int = 6,
                 max_camera_speed: int = 2,
                 nuisance: Optional[dict] = None,
                 label_start: int = 5,
                 label_interval: int = 5,
                 **kwargs) -> None:
        if split not in _SPLIT_FIRST_VIDEO:
            raise ValueError(f'split must be one of {sorted(_SPLIT_FIRST_VIDEO)}'
                             f', got {split!r}')
        if num_videos < 1 or frames_per_video < 2:
            raise ValueError(f'{split}: num_videos must be >= 1 and '
                             f'frames_per_video >= 2, got {num_videos} and '
                             f'{frames_per_video}')
        if label_interval < 1 or not 0 <= label_start < frames_per_video:
            raise ValueError(f'label_start must lie in [0, frames_per_video) and '
                             f'label_interval >= 1, got {label_start}, '
                             f'{label_interval}')
        self.split = split
        self.generator = SyntheticVideoGenerator(
            height=height, width=width, num_objects=tuple(num_objects),
            max_object_speed=max_object_speed,
            max_camera_speed=max_camera_speed, seed=seed, nuisance=nuisance)
        self.num_videos = num_videos
        self.frames_per_video = frames_per_video
        self.label_start = label_start
        self.label_interval = label_interval
        kwargs.setdefault('img_suffix', '_img.png')
        kwargs.setdefault('seg_map_suffix', '_label.png')
        super().__init__(data_root=data_root, **kwargs)

    def load_sequences(self) -> List[Dict]:
        write_synthetic_split(self.data_root, self.split, self.generator,
                              self.num_videos, self.frames_per_video,
                              first_video=_SPLIT_FIRST_VIDEO[self.split])
        labelled = set(range(self.label_start, self.frames_per_video,
                             self.label_interval))
        sequences = []
        for k in range(self.num_videos):
            # read_velocities names a missing or corrupt motion file
            velocities = read_velocities(
                synthetic_paths(self.data_root, self.split, k, 0)['motion'])
            frames = []
            for t in range(self.frames_per_video):
                p = synthetic_paths(self.data_root, self.split, k, t)
                for key in ('img', 'layers'):
                    if not osp.exists(p[key]):
                        raise FileNotFoundError(
                            f'synthetic frame missing: {p[key]} (video {k}, '
                            f'frame {t} of split {self.split!r})')
                frames.append(dict(
                    img_path=p['img'], frame_id=t, label_path=p['label'],
                    seg_map_path=p['label'] if t in labelled else None,
                    object_speed=fastest_object_speed(read_layers(p['layers']),
                                                      velocities)))
            sequences.append(dict(name=f'{self.split}/video_{k:03d}',
                                  frames=frames))
        return sequences
