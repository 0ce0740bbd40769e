"""The one check of a label map's class ids, shared by the datasets (every
sample a pipeline loads) and the metrics (every label they score)."""
import numpy as np

from .errors import DataError

__all__ = ['check_label_ids']


def check_label_ids(label, num_classes: int, ignore_index: int,
                    path: str) -> None:
    """Raises :class:`DataError` naming ``path`` when ``label`` (numpy or a
    CPU tensor) holds an id outside ``[0, num_classes)`` that is not
    ``ignore_index``: a wrong mIoU, or an ``IndexError`` in the loss, named
    instead.

    One ``min`` and one ``max`` in the common case (plus a mask for maps
    that hold the ignore index); the offending ids are listed only on the
    error path."""
    arr = label.numpy() if hasattr(label, 'numpy') else np.asarray(label)
    if arr.size == 0:
        return
    lo, hi = arr.min(), arr.max()
    if lo >= 0 and hi < num_classes:
        return
    if ignore_index in (lo, hi):  # e.g. CamVid's void: look past it
        arr = arr[arr != ignore_index]
        if arr.size == 0 or (arr.min() >= 0 and arr.max() < num_classes):
            return
    bad = np.unique(arr[(arr < 0) | (arr >= num_classes)]).tolist()
    raise DataError(
        f'label {path} holds class ids {bad[:8]} outside [0, {num_classes}) '
        f'(ignore index {ignore_index}): the dataset has {num_classes} '
        'classes; map those ids (label_map / reduce_zero_label) or fix the '
        'label file')
