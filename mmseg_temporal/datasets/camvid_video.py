"""CamVidVideoDataset: CamVid as video (SegNet release or 30 Hz raw frames)."""
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional

from mmseg.registry import DATASETS

from .base_video import BaseVideoSegDataset
from .data_faults import missing_frame

__all__ = ['CamVidVideoDataset']

_NAME = re.compile(r'^(?P<seq>.+)_(?P<prefix>f?)(?P<frame>\d+)$')
# A frame's keys in a sequence (the name parts are dropped).
_KEEP = ('img_path', 'seg_map_path', 'frame_id', 'missing', 'missing_what')


def _frame_keys(frame: Dict) -> Dict:
    return {k: frame[k] for k in _KEEP if k in frame}


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
      removed the val frames out of train's 0016E5, for instance). A
      shorter jump of more than 1.5 times the sequence's usual step is a
      missing frame (``on_missing_frame`` decides), as are files listed in
      ``ann_file`` or labels whose image is absent.
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

    def _split_names(self, img_dir: str, seg_dir: str) -> List[str]:
        """The image file names of the split: those listed in ``ann_file``,
        else those in the image folder and those whose label has no image
        (a frame that is missing, not a frame that is not there)."""
        names = {n for n in os.listdir(img_dir) if n.endswith(self.img_suffix)}
        if self.ann_file:
            with open(self.ann_file) as f:
                return sorted({osp.basename(line.split()[0]) for line in f
                               if line.strip()})
        if osp.isdir(seg_dir):
            names |= {n[:-len(self.seg_map_suffix)] + self.img_suffix
                      for n in os.listdir(seg_dir)
                      if n.endswith(self.seg_map_suffix)}
        return sorted(names)

    def _labelled_frames(self) -> List[Dict]:
        img_dir = self.data_prefix.get('img_path', '')
        seg_dir = self.data_prefix.get('seg_map_path', '')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'CamVid image folder not found: {img_dir}')
        frames = []
        for n in self._split_names(img_dir, seg_dir):
            stem = n[:-len(self.img_suffix)]
            m = _NAME.match(stem)
            if m is None:
                raise ValueError(f'{osp.join(img_dir, n)}: file name does not '
                                 'follow <sequence>_<frame>.png')
            img, seg = osp.join(img_dir, n), osp.join(seg_dir, stem + self.seg_map_suffix)
            key = dict(seq=m['seq'], prefix=m['prefix'], digits=len(m['frame']))
            if not osp.exists(img):
                frames.append(dict(missing_frame(img, int(m['frame']),
                                                 'a labelled frame', seg), **key))
                continue
            if not osp.exists(seg):
                raise FileNotFoundError(f'label missing for {img}: expected {seg}')
            frames.append(dict(frame_id=int(m['frame']), img_path=img,
                               seg_map_path=seg, **key))
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
                sequences += [self._raw_snippet(fr) for fr in frames]
        return sequences

    def _sequence(self, seq: str, frames: List[Dict]) -> Dict:
        frames = self._with_holes(frames)
        return dict(name=f'{seq}@{frames[0]["frame_id"]:05d}',
                    frames=[_frame_keys(f) for f in frames])

    def _with_holes(self, frames: List[Dict]) -> List[Dict]:
        """``frames`` of one run with a placeholder for every labelled frame
        that is not on disk: a jump of more than 1.5 times the run's usual
        step (30 video frames in train/test, 2 in val) is a hole, not two
        neighbours, so a triplet never pairs frames 2 s apart in its place.
        Runs of fewer than 3 frames have no usual step to tell."""
        gaps = [b['frame_id'] - a['frame_id'] for a, b in zip(frames, frames[1:])]
        if len(gaps) < 2:
            return frames
        step = Counter(gaps).most_common(1)[0][0]
        out = [frames[0]]
        for fr, gap in zip(frames[1:], gaps):
            prev = out[-1]
            holes = int(round(gap / step)) - 1 if gap > 1.5 * step else 0
            for k in range(1, holes + 1):
                fid = prev['frame_id'] + k * step
                name = (f'{fr["seq"]}_{fr["prefix"]}{fid:0{fr["digits"]}d}'
                        f'{self.img_suffix}')
                out.append(missing_frame(
                    osp.join(osp.dirname(fr['img_path']), name), fid,
                    f'a labelled frame between {osp.basename(prev["img_path"])}'
                    f' and {osp.basename(fr["img_path"])}, {step} video frames '
                    'apart elsewhere in the sequence'))
            out.append(fr)
        return out

    def _raw_snippet(self, labelled: Dict) -> Dict:
        root = osp.join(self.data_root or '', self.raw_frame_dir)
        frames = []
        for fid in range(labelled['frame_id'] - self.snippet_before,
                         labelled['frame_id'] + self.snippet_after + 1):
            if fid < 0:
                continue
            if fid == labelled['frame_id']:
                frames.append(_frame_keys(labelled))
                continue
            path = osp.join(root, self.raw_frame_template.format(
                seq=labelled['seq'], prefix=labelled['prefix'], frame=fid))
            frames.append(
                dict(img_path=path, seg_map_path=None, frame_id=fid)
                if osp.exists(path) else missing_frame(
                    path, fid, f'raw frame {fid} of the snippet of '
                    f'{labelled["img_path"]}'))
        return dict(name=f'{labelled["seq"]}@{labelled["frame_id"]:05d}',
                    frames=frames)
