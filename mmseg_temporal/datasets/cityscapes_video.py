"""CityscapesVideoDataset: leftImg8bit_sequence snippets + gtFine labels."""
import os
import os.path as osp
from typing import Dict, List, Optional

from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from .base_video import BaseVideoSegDataset
from .data_faults import missing_frame

__all__ = ['CityscapesVideoDataset']


@DATASETS.register_module()
class CityscapesVideoDataset(BaseVideoSegDataset):
    """Cityscapes video: each labelled frame with its 30-frame snippet.

    Layout (``data_root`` = the Cityscapes folder)::

        leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png

    The snippet of the labelled frame ``n`` is frames ``n - snippet_before``
    to ``n + snippet_after`` (19 and 10: the labelled frame is the 20th of
    30, 17 Hz). Every frame of it must exist: a missing one raises
    ``FileNotFoundError`` naming the file at build time (or, with
    ``on_missing_frame='skip'``, is counted and never used).

    Args:
        data_prefix: ``dict(img_path='leftImg8bit_sequence/train',
            seg_map_path='gtFine/train')``.
        snippet_before, snippet_after: snippet extent around the label.
        sequence_list: optional file listing labelled-frame stems
            (``<city>_<seq>_<frame>``, one a line) to keep, e.g. a sampled
            list of val sequences for temporal evaluation.
    """

    METAINFO = CityscapesDataset.METAINFO

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='leftImg8bit_sequence/train',
                     seg_map_path='gtFine/train'),
                 snippet_before: int = 19,
                 snippet_after: int = 10,
                 sequence_list: Optional[str] = None,
                 **kwargs) -> None:
        self.snippet_before = snippet_before
        self.snippet_after = snippet_after
        self.sequence_list = sequence_list
        kwargs.setdefault('img_suffix', '_leftImg8bit.png')
        kwargs.setdefault('seg_map_suffix', '_gtFine_labelTrainIds.png')
        super().__init__(data_prefix=data_prefix, **kwargs)

    def load_sequences(self) -> List[Dict]:
        img_dir = self.data_prefix.get('img_path', '')
        seg_dir = self.data_prefix.get('seg_map_path', '')
        if not osp.isdir(seg_dir):
            raise FileNotFoundError(f'Cityscapes label folder not found: {seg_dir}')
        keep = None
        if self.sequence_list:
            with open(self.sequence_list) as f:
                keep = {line.strip() for line in f if line.strip()}
        sequences = []
        for city in sorted(os.listdir(seg_dir)):
            cdir = osp.join(seg_dir, city)
            if not osp.isdir(cdir):
                continue
            for name in sorted(os.listdir(cdir)):
                if not name.endswith(self.seg_map_suffix):
                    continue
                stem = name[:-len(self.seg_map_suffix)]
                if keep is not None and stem not in keep:
                    continue
                try:
                    c, seq, frame = stem.rsplit('_', 2)
                    n = int(frame)
                except ValueError as e:
                    raise ValueError(f'{osp.join(cdir, name)}: name does not '
                                     'follow <city>_<seq>_<frame>') from e
                sequences.append(dict(name=stem, frames=self._snippet(
                    osp.join(img_dir, city, f'{c}_{seq}_'), stem, n,
                    osp.join(cdir, name))))
        if keep is not None:
            found = {s['name'] for s in sequences}
            missing = sorted(keep - found)
            if missing:
                raise FileNotFoundError(
                    f'{self.sequence_list}: {len(missing)} listed sequences have '
                    f'no label under {seg_dir}, e.g. {missing[:3]}')
        return sequences

    def _snippet(self, prefix: str, stem: str, n: int, label: str) -> List[Dict]:
        """The frames ``prefix<frame:06d><img_suffix>`` of the snippet of
        the labelled frame ``n`` (``stem``); missing ones as placeholders."""
        frames = []
        for fid in range(n - self.snippet_before, n + self.snippet_after + 1):
            img = f'{prefix}{fid:06d}{self.img_suffix}'
            seg = label if fid == n else None
            if osp.exists(img):
                frames.append(dict(img_path=img, frame_id=fid, seg_map_path=seg))
            else:
                frames.append(missing_frame(
                    img, fid, f'frame {fid} of the snippet of labelled frame '
                    f'{stem}', seg))
        return frames
