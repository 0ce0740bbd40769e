"""CamVidVideoDataset: CamVid as video (SegNet release or 30 Hz raw frames)."""
import os
import os.path as osp
import re
from typing import Dict, List, Optional

from mmseg.registry import DATASETS

from .base_video import BaseVideoSegDataset

__all__ = ['CamVidVideoDataset']

_NAME = re.compile(r'^(?P<seq>.+)_(?P<prefix>f?)(?P<frame>\d+)$')


@DATASETS.register_module()
class CamVidVideoDataset(BaseVideoSegDataset):
    """CamVid, 11 classes; its void label 11 is mapped to 255 at load.

    Two layouts:

    * The SegNet release (``../shared/data/camvid``): ``<split>/`` and
      ``<split>annot/`` hold ``<seq>_<frame>.png`` (Seq05VD:
      ``Seq05VD_f<frame>.png``); labelled frames are 30 video frames (one
      second) apart. With ``raw_frame_dir=None`` a sequence is the list of
      labelled frames of one video, so a triplet's neighbours are the
      previous/next labelled frames, never across sequences. A jump of more
      than ``max_frame_gap`` video frames starts a new sequence (the release
      removed the val frames out of train's 0016E5, for instance).
    * The 30 Hz raw frames, for users who extracted them: with
      ``raw_frame_dir`` set, the sequence of a labelled frame is made of the
      raw frames ``raw_frame_dir/<seq>_<prefix><frame:05d>.png`` (format
      ``raw_frame_template``) from ``snippet_before`` frames before to
      ``snippet_after`` after it, so offsets count 30 Hz frames.

    Args:
        data_prefix: ``dict(img_path='train', seg_map_path='trainannot')``.
        raw_frame_dir: folder of the raw 30 Hz frames (relative to
            ``data_root``) or ``None``.
        raw_frame_template: file name of a raw frame; fields ``seq``,
            ``prefix`` (``'f'`` for Seq05VD, else empty) and ``frame``.
        snippet_before, snippet_after: raw frames around a labelled frame.
        max_frame_gap: largest jump (video frames) inside one sequence.
    """

    METAINFO = dict(
        classes=('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                 'signsymbol', 'fence', 'car', 'pedestrian', 'bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128],
                 [128, 64, 128], [0, 0, 192], [128, 128, 0], [192, 128, 128],
                 [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 128, 192]])
    VOID_LABEL = 11

    def __init__(self,
                 data_prefix: dict = dict(img_path='train',
                                          seg_map_path='trainannot'),
                 raw_frame_dir: Optional[str] = None,
                 raw_frame_template: str = '{seq}_{prefix}{frame:05d}.png',
                 snippet_before: int = 15,
                 snippet_after: int = 15,
                 max_frame_gap: int = 60,
                 **kwargs) -> None:
        self.raw_frame_dir = raw_frame_dir
        self.raw_frame_template = raw_frame_template
        self.snippet_before = snippet_before
        self.snippet_after = snippet_after
        self.max_frame_gap = max_frame_gap
        kwargs.setdefault('img_suffix', '.png')
        kwargs.setdefault('seg_map_suffix', '.png')
        super().__init__(data_prefix=data_prefix, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> Dict[int, int]:
        """Maps CamVid's void (11) to the ignore index 255, on top of MMSeg's
        class-subset mapping."""
        label_map = super().get_label_map(new_classes) or {}
        label_map[cls.VOID_LABEL] = 255
        return label_map

    def _labelled_frames(self) -> List[Dict]:
        img_dir = self.data_prefix.get('img_path', '')
        seg_dir = self.data_prefix.get('seg_map_path', '')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'CamVid image folder not found: {img_dir}')
        names = sorted(n for n in os.listdir(img_dir)
                       if n.endswith(self.img_suffix))
        if self.ann_file:
            with open(self.ann_file) as f:
                listed = {osp.basename(line.split()[0]) for line in f if line.strip()}
            names = [n for n in names if n in listed]
        frames = []
        for n in names:
            stem = n[:-len(self.img_suffix)]
            m = _NAME.match(stem)
            if m is None:
                raise ValueError(f'{osp.join(img_dir, n)}: file name does not '
                                 'follow <sequence>_<frame>.png')
            seg = osp.join(seg_dir, stem + self.seg_map_suffix)
            if not osp.exists(seg):
                raise FileNotFoundError(f'label missing for {osp.join(img_dir, n)}:'
                                        f' expected {seg}')
            frames.append(dict(seq=m['seq'], prefix=m['prefix'],
                               frame_id=int(m['frame']),
                               img_path=osp.join(img_dir, n), seg_map_path=seg))
        return frames

    def load_sequences(self) -> List[Dict]:
        by_seq: Dict[str, List[Dict]] = {}
        for fr in self._labelled_frames():
            by_seq.setdefault(fr['seq'], []).append(fr)
        sequences = []
        for seq, frames in by_seq.items():
            frames.sort(key=lambda f: f['frame_id'])
            if self.raw_frame_dir is None:
                run = [frames[0]]
                for fr in frames[1:]:
                    if fr['frame_id'] - run[-1]['frame_id'] > self.max_frame_gap:
                        sequences.append(self._sequence(seq, run))
                        run = []
                    run.append(fr)
                sequences.append(self._sequence(seq, run))
            else:
                for fr in frames:
                    sequences.append(self._raw_snippet(fr))
        return sequences

    def _sequence(self, seq: str, frames: List[Dict]) -> Dict:
        keep = ('img_path', 'seg_map_path', 'frame_id')
        return dict(name=f'{seq}@{frames[0]["frame_id"]:05d}',
                    frames=[{k: f[k] for k in keep} for f in frames])

    def _raw_snippet(self, labelled: Dict) -> Dict:
        root = osp.join(self.data_root or '', self.raw_frame_dir)
        frames = []
        for fid in range(labelled['frame_id'] - self.snippet_before,
                         labelled['frame_id'] + self.snippet_after + 1):
            if fid < 0:
                continue
            if fid == labelled['frame_id']:
                frames.append(dict(img_path=labelled['img_path'],
                                   seg_map_path=labelled['seg_map_path'],
                                   frame_id=fid))
                continue
            path = osp.join(root, self.raw_frame_template.format(
                seq=labelled['seq'], prefix=labelled['prefix'], frame=fid))
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'raw frame missing: {path} (frame {fid} of the snippet of '
                    f'{labelled["img_path"]})')
            frames.append(dict(img_path=path, seg_map_path=None, frame_id=fid))
        return dict(name=f'{labelled["seq"]}@{labelled["frame_id"]:05d}',
                    frames=frames)
