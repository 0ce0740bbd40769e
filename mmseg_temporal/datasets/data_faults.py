"""Bad data is named, never silently used: missing frames and label maps.

* Missing frames. A dataset's :meth:`load_sequences` keeps a frame that
  should exist but does not (a hole in a CamVid sequence, a frame of a
  Cityscapes snippet, a file listed in ``ann_file``) as a placeholder
  :func:`missing_frame`; :func:`resolve_missing_frames` then applies the
  dataset's ``on_missing_frame``: ``'error'`` (default) raises
  ``FileNotFoundError`` naming the files, ``'skip'`` logs their count and
  leaves them in the sequences, marked, for the sample builders to avoid
  (a triplet never draws a missing neighbour, the sequence mode leaves a
  gap in ``frame_index`` that the temporal metrics do not score across).
* Label maps. :func:`check_sample_labels` raises
  :class:`~mmseg_temporal.utils.errors.DataError` naming the label file when
  the map a pipeline returned (whatever transform loaded it) holds ids
  outside ``[0, num_classes)`` other than the ignore index (one
  ``min``/``max`` per map, :func:`~mmseg_temporal.utils.labels.check_label_ids`);
  :func:`name_unreadable` finds which file of a sample could not be
  decoded.
"""
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from ..utils.errors import DataError
from ..utils.labels import check_label_ids

__all__ = ['MISSING_FRAME_POLICIES', 'missing_frame', 'is_missing',
           'resolve_missing_frames', 'check_label_sizes',
           'check_sample_labels', 'name_unreadable']

MISSING_FRAME_POLICIES = ('error', 'skip')
_SHOWN = 3


def missing_frame(img_path: str, frame_id: int, what: str,
                  seg_map_path: Optional[str] = None) -> Dict:
    """The placeholder of a frame that should exist at ``img_path``;
    ``what`` says which frame it is (in the error message)."""
    return dict(img_path=img_path, seg_map_path=seg_map_path,
                frame_id=frame_id, missing=True, missing_what=what)


def is_missing(frame: Dict) -> bool:
    return bool(frame.get('missing'))


def resolve_missing_frames(sequences: List[Dict], policy: str,
                           owner: str) -> int:
    """Applies ``on_missing_frame`` to the placeholders of ``sequences``.

    Returns:
        The number of missing frames (``'skip'``; they stay marked).

    Raises:
        FileNotFoundError: ``policy='error'`` and a frame is missing (the
            message names the first files, the count and the option).
    """
    missing = [f for s in sequences for f in s['frames'] if is_missing(f)]
    if not missing:
        return 0
    shown = '; '.join(f'{f["img_path"]} ({f["missing_what"]})'
                      for f in missing[:_SHOWN])
    more = f' and {len(missing) - _SHOWN} more' if len(missing) > _SHOWN else ''
    if policy == 'error':
        raise FileNotFoundError(
            f'{owner}: frame missing: {shown}{more}. Restore it, or set the '
            "dataset's on_missing_frame='skip' to leave out the samples that "
            'need it')
    print_log(f'{owner}: {len(missing)} missing frame(s) skipped '
              f"(on_missing_frame='skip'): no sample uses them and no frame "
              f'pair spans them, e.g. {shown}', logger='current', level=30)
    return len(missing)


def check_label_sizes(sequences: List[Dict]) -> None:
    """Raises ``ValueError`` naming both files when a labelled frame's
    label differs in size from its image (image headers only)."""
    from PIL import Image
    for seq in sequences:
        for fr in seq['frames']:
            if fr.get('seg_map_path') is None or is_missing(fr):
                continue
            with Image.open(fr['img_path']) as im:
                isize = im.size
            with Image.open(fr['seg_map_path']) as lab:
                lsize = lab.size
            if isize != lsize:
                raise ValueError(
                    f'label {fr["seg_map_path"]} is {lsize[0]}x{lsize[1]} '
                    f'(WxH) but its image {fr["img_path"]} is '
                    f'{isize[0]}x{isize[1]}: a label must have the size '
                    'of its image')


def _data_sample_labels(results: dict):
    """``(label tensor or array, path)`` of the label in a pipeline's
    output: the packed data sample's ``gt_sem_seg``, or an unpacked
    ``gt_seg_map``."""
    sample = results.get('data_samples') if isinstance(results, dict) else None
    if sample is not None:
        path = sample.metainfo.get('seg_map_path', '?')
        if 'gt_sem_seg' in sample:
            yield sample.gt_sem_seg.data, path
        return
    if isinstance(results, dict) and 'gt_seg_map' in results:
        yield results['gt_seg_map'], results.get('seg_map_path', '?')


def check_sample_labels(results: dict, num_classes: int,
                        ignore_index: int = 255,
                        path: Optional[str] = None) -> None:
    """:func:`~mmseg_temporal.utils.labels.check_label_ids` on the label a pipeline returned
    (``path``: its file, when the packed metainfo does not name it)."""
    for label, packed_path in _data_sample_labels(results):
        check_label_ids(label, num_classes, ignore_index, path or packed_path)


def name_unreadable(paths: Sequence[str], error: BaseException) -> DataError:
    """A :class:`DataError` naming the file of ``paths`` that fails to
    decode fully (PIL), for an ``OSError`` that names none (``image file is
    truncated``, ``cannot identify image file <BytesIO>``)."""
    from PIL import Image
    for path in paths:
        if not path:
            continue
        try:
            with Image.open(path) as im:
                im.load()
        except Exception as e:  # noqa: BLE001 - any decoding failure names it
            return DataError(f'cannot read {path}: {type(e).__name__}: {e} '
                             '(a damaged or truncated image file)')
    return DataError(f'cannot read the sample of {", ".join(p for p in paths if p)}: '
                     f'{type(error).__name__}: {error}')
