"""Base class of the video datasets: sequences of frames, three sample modes.

A video dataset knows *sequences*: ordered lists of frames of one video
snippet, some of which have a label. From them it serves, by ``sample_mode``:

* ``'triplet'`` (training): one sample per labelled frame ``l``: the frames
  ``(f, l, b)`` with ``f`` drawn at random ``o_f`` positions before ``l``
  (``o_f`` uniform in ``offsets_before``) and ``b`` drawn ``o_b`` positions
  after (``o_b`` in ``offsets_after``), inside the same sequence: the random
  sample policy of the paper (section 3). Only ``l`` is labelled.
* ``'labelled'``: one sample per labelled frame, single frame, with the keys
  of stock MMSeg (``img_path``, ``seg_map_path``): stock pipelines work.
* ``'sequence'`` (temporal evaluation): every frame of every sequence in
  time order, one frame per sample, with ``seq_name`` and ``frame_index``.

Offsets count positions in the sequence's frame list (for Cityscapes and the
raw CamVid layout: video frames; for the labelled-only CamVid release:
labelled frames, one second apart).
"""
import os.path as osp
import random
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from .data_faults import (
    MISSING_FRAME_POLICIES,
    check_label_sizes,
    check_sample_labels,
    is_missing,
    name_unreadable,
    resolve_missing_frames,
)

__all__ = ['BaseVideoSegDataset']

SAMPLE_MODES = ('triplet', 'labelled', 'sequence')
EDGE_POLICIES = ('error', 'clamp', 'skip')


def _check_range(name: str, rng: Sequence[int]) -> Tuple[int, int]:
    if (not isinstance(rng, (list, tuple)) or len(rng) != 2
            or int(rng[0]) < 1 or int(rng[1]) < int(rng[0])):
        raise ValueError(f'{name} must be (min, max) with 1 <= min <= max '
                         f'(positions away from the labelled frame), got '
                         f'{rng!r}')
    return int(rng[0]), int(rng[1])


class BaseVideoSegDataset(BaseSegDataset, metaclass=ABCMeta):
    """Video dataset base: subclasses implement :meth:`load_sequences`.

    Args:
        sample_mode: ``'triplet'``, ``'labelled'`` or ``'sequence'``.
        offsets_before: ``(min, max)`` positions before the labelled frame
            from which frame ``f`` is drawn (triplet mode).
        offsets_after: ``(min, max)`` positions after it for frame ``b``.
        sample_policy: ``'random'`` (the paper's policy, a new draw every
            time a sample is loaded) or ``'fixed'`` (always the smallest
            offsets; for deterministic validation and debugging).
        edge_policy: what to do with a labelled frame whose sequence does
            not hold every requested offset: ``'error'`` (default; the error
            names the sample), ``'clamp'`` (draw only from the offsets that
            exist, skip the frame when none exist on a side) or ``'skip'``
            (drop the frame). Dropped frames are counted in the log.
        on_missing_frame: a frame a sample needs that is not on disk (a
            hole in a sequence, a frame of a snippet, a file listed in
            ``ann_file``): ``'error'`` (default; ``FileNotFoundError``
            naming the files) or ``'skip'`` (logged count; no sample uses
            the frame, a triplet draws only neighbours that exist, and the
            sequence mode leaves a gap in ``frame_index`` that the temporal
            metrics do not score across).
        check_label_size: read image and label headers at build time and
            raise when a label's size differs from its image's.
        sequence_prefixes: keep only the sequences whose name starts with
            one of these strings (e.g. ``['Seq05VD']``); ``None`` keeps all.
        num_sequences: keep a random sample of this many sequences, drawn
            with ``sequence_seed`` (the same sample every time; e.g. the
            paper's 100 Cityscapes val sequences for TC); ``None`` keeps
            all.
        sequence_seed: seed of that sample.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments.
    """

    def __init__(self,
                 sample_mode: str = 'triplet',
                 offsets_before: Sequence[int] = (1, 5),
                 offsets_after: Sequence[int] = (1, 5),
                 sample_policy: str = 'random',
                 edge_policy: str = 'error',
                 on_missing_frame: str = 'error',
                 check_label_size: bool = True,
                 sequence_prefixes: Optional[Sequence[str]] = None,
                 num_sequences: Optional[int] = None,
                 sequence_seed: int = 0,
                 **kwargs) -> None:
        if sample_mode not in SAMPLE_MODES:
            raise ValueError(f'sample_mode must be one of {SAMPLE_MODES}, '
                             f'got {sample_mode!r}')
        if sample_policy not in ('random', 'fixed'):
            raise ValueError("sample_policy must be 'random' or 'fixed', got "
                             f'{sample_policy!r}')
        if edge_policy not in EDGE_POLICIES:
            raise ValueError(f'edge_policy must be one of {EDGE_POLICIES}, '
                             f'got {edge_policy!r}')
        if on_missing_frame not in MISSING_FRAME_POLICIES:
            raise ValueError(f'on_missing_frame must be one of '
                             f'{MISSING_FRAME_POLICIES}, got {on_missing_frame!r}')
        self.on_missing_frame = on_missing_frame
        self.sample_mode = sample_mode
        self.offsets_before = _check_range('offsets_before', offsets_before)
        self.offsets_after = _check_range('offsets_after', offsets_after)
        self.sample_policy = sample_policy
        self.edge_policy = edge_policy
        self.check_label_size = check_label_size
        self.sequence_prefixes = (tuple(sequence_prefixes)
                                  if sequence_prefixes is not None else None)
        self.num_sequences = num_sequences
        self.sequence_seed = sequence_seed
        super().__init__(**kwargs)

    # ------------------------------------------------------------------
    # To implement
    # ------------------------------------------------------------------
    @abstractmethod
    def load_sequences(self) -> List[Dict]:
        """Returns the sequences of the split.

        Each sequence is ``dict(name=str, frames=[dict(img_path=str,
        seg_map_path=str or None, frame_id=int), ...])`` with frames in time
        order; extra keys of a sequence or a frame are copied into the
        samples (e.g. the synthetic video's ``label_path``). A frame that
        should exist but does not is kept as
        :func:`~.data_faults.missing_frame` (``on_missing_frame`` decides);
        other missing files raise ``FileNotFoundError`` naming the file.
        """

    # ------------------------------------------------------------------
    def _split_desc(self) -> str:
        return (f'{type(self).__name__}(data_root={self.data_root!r}, '
                f'data_prefix={self.data_prefix!r}, ann_file={self.ann_file!r})')

    def load_data_list(self) -> List[dict]:
        sequences = self.load_sequences()
        if not sequences or not any(s['frames'] for s in sequences):
            raise ValueError(f'{self._split_desc()}: the split is empty (no '
                             'frames found)')
        sequences = sorted(sequences, key=lambda s: s['name'])
        for seq in sequences:
            ids = [f['frame_id'] for f in seq['frames']]
            if ids != sorted(ids) or len(set(ids)) != len(ids):
                raise ValueError(f'sequence {seq["name"]!r}: frames are not in '
                                 f'strictly increasing time order: {ids}')
        self.num_missing_frames = resolve_missing_frames(
            sequences, self.on_missing_frame, self._split_desc())
        if self.check_label_size:
            check_label_sizes(sequences)
        sequences = self._select_sequences(sequences)
        samples_of = dict(sequence=self._sequence_samples,
                          labelled=self._labelled_samples,
                          triplet=self._triplet_samples)
        return samples_of[self.sample_mode](sequences)

    # ------------------------------------------------------------------
    # One sample list per sample mode
    # ------------------------------------------------------------------
    def _sample(self, seq: Dict, i: int, **keys) -> dict:
        """Sample ``i`` of a sequence: the frame's keys, the sequence's extra
        keys, the label settings and ``keys``."""
        extra = {k: v for k, v in seq.items() if k not in ('name', 'frames')}
        return dict(seq['frames'][i], **extra, label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                    seq_name=seq['name'], frame_index=i, **keys)

    def _sequence_samples(self, sequences: List[Dict]) -> List[dict]:
        """Every frame of every sequence, in time order (a skipped missing
        frame leaves a gap in ``frame_index``)."""
        return [self._sample(seq, i) for seq in sequences
                for i, fr in enumerate(seq['frames']) if not is_missing(fr)]

    def _labelled_samples(self, sequences: List[Dict]) -> List[dict]:
        """Every labelled frame, single frame (stock MMSeg keys)."""
        return [self._sample(seq, i) for seq in sequences
                for i, fr in enumerate(seq['frames'])
                if fr.get('seg_map_path') is not None and not is_missing(fr)]

    def _triplet_samples(self, sequences: List[Dict]) -> List[dict]:
        """Every labelled frame with the neighbours its triplets may draw
        (after the edge policy, :meth:`_neighbour_candidates`)."""
        data_list, dropped, unmet = [], [], 0
        for seq in sequences:
            for i, fr in enumerate(seq['frames']):
                if fr.get('seg_map_path') is None or is_missing(fr):
                    continue
                candidates = self._neighbour_candidates(seq, i)
                if candidates is None:
                    dropped.append(
                        f'{seq["name"]}:{osp.basename(fr["img_path"])}')
                    continue
                candidates = self._without_missing(seq, i, candidates)
                if candidates is None:
                    unmet += 1
                    continue
                data_list.append(self._sample(
                    seq, i, seq_frames=seq['frames'],
                    candidates_before=candidates[0],
                    candidates_after=candidates[1]))
        if dropped:
            print_log(f'{type(self).__name__}: {len(dropped)} labelled frames '
                      f'without the requested neighbours were dropped '
                      f'(edge_policy={self.edge_policy!r}), e.g. {dropped[:3]}',
                      logger='current')
        if unmet:
            print_log(f'{type(self).__name__}: {unmet} labelled frames whose '
                      'requested neighbours are all missing were dropped '
                      "(on_missing_frame='skip')", logger='current', level=30)
        if not data_list:
            raise ValueError(f'{self._split_desc()}: no labelled frame with '
                             f'the requested neighbours (offsets_before='
                             f'{self.offsets_before}, offsets_after='
                             f'{self.offsets_after}, edge_policy='
                             f'{self.edge_policy!r})')
        return data_list

    def _neighbour_candidates(self, seq: Dict, i: int
                              ) -> Optional[Tuple[List[int], List[int]]]:
        """The edge policy, in one place: the offsets before and after the
        labelled frame ``i`` of ``seq`` that a triplet may draw, or ``None``
        when the frame is dropped.

        Raises:
            ValueError: ``edge_policy='error'`` and the sequence does not
                hold every requested offset (the message names the sample).
        """
        n = len(seq['frames'])
        lo_b, hi_b = self.offsets_before
        lo_a, hi_a = self.offsets_after
        before = [o for o in range(lo_b, hi_b + 1) if i - o >= 0]
        after = [o for o in range(lo_a, hi_a + 1) if i + o < n]
        if len(before) == hi_b - lo_b + 1 and len(after) == hi_a - lo_a + 1:
            return before, after
        if self.edge_policy == 'error':
            name = f'{seq["name"]}:{osp.basename(seq["frames"][i]["img_path"])}'
            raise ValueError(
                f'sample {name} (labelled frame {i} of sequence '
                f'{seq["name"]!r}, {n} frames): the sequence is shorter than '
                f'the requested offsets (offsets_before='
                f'{self.offsets_before}, offsets_after={self.offsets_after}: '
                f'needs {hi_b} frames before and {hi_a} after, has {i} before '
                f'and {n - 1 - i} after). Reduce the offsets or set '
                "edge_policy='clamp' or 'skip'.")
        if self.edge_policy == 'skip' or not before or not after:
            return None
        return before, after

    @staticmethod
    def _without_missing(seq: Dict, i: int, candidates: Tuple[List[int], List[int]]
                         ) -> Optional[Tuple[List[int], List[int]]]:
        """The offsets of ``candidates`` whose frames exist (``None`` when a
        side has none left): a triplet never draws a missing neighbour, nor
        the next frame in its place."""
        frames = seq['frames']
        before = [o for o in candidates[0] if not is_missing(frames[i - o])]
        after = [o for o in candidates[1] if not is_missing(frames[i + o])]
        return (before, after) if before and after else None

    def _select_sequences(self, sequences: List[Dict]) -> List[Dict]:
        if self.sequence_prefixes is not None:
            sequences = [s for s in sequences
                         if s['name'].startswith(self.sequence_prefixes)]
            if not sequences:
                raise ValueError(f'{self._split_desc()}: no sequence name '
                                 f'starts with {list(self.sequence_prefixes)}')
        if self.num_sequences is not None and self.num_sequences < len(sequences):
            rng = random.Random(self.sequence_seed)
            keep = set(rng.sample(range(len(sequences)), int(self.num_sequences)))
            sequences = [s for i, s in enumerate(sequences) if i in keep]
        return sequences

    # ------------------------------------------------------------------
    def draw_frames(self, info: dict) -> dict:
        """Chooses the triplet's neighbours (random sample policy) and adds
        ``img_paths``, ``frame_ids``, ``label_index`` and ``offsets``."""
        if self.sample_mode != 'triplet':
            return info
        before, after = info.pop('candidates_before'), info.pop('candidates_after')
        if self.sample_policy == 'random':
            ob, oa = random.choice(before), random.choice(after)
        else:
            ob, oa = before[0], after[0]
        i = info['frame_index']
        frames = info.pop('seq_frames')
        chosen = [frames[i - ob], frames[i], frames[i + oa]]
        info['frames'] = chosen
        info['img_paths'] = [f['img_path'] for f in chosen]
        info['frame_ids'] = [f['frame_id'] for f in chosen]
        info['label_index'] = 1
        info['offsets'] = (ob, oa)
        return info

    def prepare_data(self, idx: int):
        """The pipeline's output for sample ``idx``; its label is checked
        (ids in ``[0, num_classes)`` or the ignore index, whatever transform
        loaded it) and an image that cannot be decoded is named."""
        info = self.draw_frames(self.get_data_info(idx))
        label_path = info.get('seg_map_path')
        files = [label_path] + list(info.get('img_paths') or [info.get('img_path')])
        try:
            results = self.pipeline(info)
        except OSError as e:
            if getattr(e, 'filename', None) is not None:
                raise  # names its file already (missing, unreadable)
            raise name_unreadable(files, e) from e
        if results is not None:
            check_sample_labels(results, len(self.metainfo['classes']),
                                self.ignore_index, label_path)
        return results

    def flow_pairs(self) -> List[Tuple[str, str]]:
        """Every (frame_a, frame_b) image-path pair whose flow a triplet may
        ask for (all offsets of the random policy), for flow caching.

        The flows of a triplet ``(f, l, b)`` are ``f -> l`` and ``l -> b``.
        """
        pairs = []
        for i in range(len(self)):
            info = self.get_data_info(i)
            if self.sample_mode != 'triplet':
                raise ValueError('flow_pairs() needs sample_mode="triplet"')
            paths = [f['img_path'] for f in info['seq_frames']]
            k = info['frame_index']
            pairs += [(paths[k - o], paths[k]) for o in info['candidates_before']]
            pairs += [(paths[k], paths[k + o]) for o in info['candidates_after']]
        return list(dict.fromkeys(pairs))
