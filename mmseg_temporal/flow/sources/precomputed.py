"""PrecomputedFlow: the flow source that reads a flow cache by frame paths."""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmseg.registry import TASK_UTILS
from tqdm import tqdm

from ...utils.image import read_rgb
from .base import FlowResult
from .estimator import EstimatorFlow
from .flow_cache import FlowCache, FlowCacheError

__all__ = ['PrecomputedFlow', 'image_size']

Pair = Tuple[str, str]


def image_size(path: str) -> Tuple[int, int]:
    """``(H, W)`` of an image file, from its header (no decoding)."""
    from PIL import Image
    with Image.open(path) as im:
        return im.size[1], im.size[0]


@TASK_UTILS.register_module()
class PrecomputedFlow:
    """Serves the flow of a frame pair from a cache made by
    ``tools/precompute_flow.py``; the flow network need not run at all.

    ``flow, None = source(path_a, path_b, img_a, img_b)``: the ``(2, H, W)``
    float32 flow from frame a to frame b (x then y, pixels). The images
    (``(H, W, 3)`` uint8 RGB) check the entry's size and, with
    ``on_missing='compute'``, compute a missing, stale or corrupt entry
    (read from the files when not given), which is then stored: a rerun or
    a training run repairs a damaged cache instead of failing.

    With ``on_missing='compute'`` the cache folder is checked at
    construction (before any work): it must be writable, and a cache of
    another estimator is refused with both names (``cache_meta.json``,
    written here when absent). With an ``estimator`` and
    ``on_missing='error'`` only the estimator is checked.

    Args:
        cache_dir: the cache folder.
        data_root: the dataset's ``data_root`` (keys are relative to it).
        on_missing: ``'error'`` (a missing, stale or corrupt entry raises
            :class:`FlowCacheError` naming the pair) or ``'compute'``
            (compute it with ``estimator`` and store it).
        estimator: flow estimator config for ``on_missing='compute'`` and
            :meth:`fill`.
        device: where the estimator runs (default: the CPU).
    """

    def __init__(self, cache_dir: str, data_root: Optional[str] = None,
                 on_missing: str = 'error',
                 estimator: Optional[dict] = None,
                 device: Optional[str] = None) -> None:
        if on_missing not in ('error', 'compute'):
            raise ValueError("on_missing must be 'error' or 'compute', got "
                             f'{on_missing!r}')
        if on_missing == 'compute' and estimator is None:
            raise ValueError("on_missing='compute' needs an estimator config")
        self.cache = FlowCache(cache_dir, data_root)
        self.on_missing = on_missing
        self.estimator_cfg = estimator
        self.device = device
        self._estimator = (EstimatorFlow(estimator, device)
                           if estimator is not None else None)
        if estimator is not None:
            self.cache.check_estimator(estimator)
        if on_missing == 'compute':
            self.cache.check_writable()
            if self.cache.read_meta() is None:
                self.cache.write_meta(dict(estimator=estimator, dtype='float16',
                                           data_root=data_root))

    def compute(self, img_a: np.ndarray, img_b: np.ndarray) -> np.ndarray:
        """Flow of two ``(H, W, 3)`` uint8 RGB images with the estimator."""
        if self._estimator is None:
            raise ValueError(f'{self!r} has no estimator config to compute '
                             'flows with')
        return self._estimator.compute(img_a, img_b)

    def check(self, pairs: Iterable[Pair]) -> Dict[str, List]:
        """Verifies the entries of ``pairs``: each must be readable, float16
        ``(2, H, W)`` at its frame's size, and finite.

        Returns:
            ``dict(ok=[pair, ...], missing=[pair, ...], stale=[pair, ...],
            corrupt=[(pair, cause), ...])``; ``stale``: the entry was made
            from an earlier version of a frame (its size or modification
            time changed).
        """
        report = dict(ok=[], missing=[], stale=[], corrupt=[])
        for a, b in pairs:
            problem = self.cache.problem(a, b, shape=image_size(a))
            if problem is None:
                report['ok'].append((a, b))
            elif problem in ('missing', 'stale'):
                report[problem].append((a, b))
            else:
                report['corrupt'].append(((a, b), problem))
        return report

    @staticmethod
    def to_compute(report: Dict[str, List]) -> List[Pair]:
        """The pairs of a :meth:`check` report that need computing."""
        return (report['missing'] + report['stale']
                + [p for p, _ in report['corrupt']])

    def compute_pairs(self, pairs: Sequence[Pair],
                      progress: bool = True) -> int:
        """Computes and stores the flow of every pair of ``pairs`` (replacing
        what is there); returns how many."""
        for a, b in tqdm(pairs, desc='flow', unit='pair',
                         disable=not progress):
            self.cache.write(a, b, self.compute(read_rgb(a), read_rgb(b)))
        return len(pairs)

    def fill(self, pairs: Sequence[Pair], progress: bool = True) -> int:
        """Computes and stores every pair of ``pairs`` whose entry is missing
        or fails :meth:`check` (what ``tools/precompute_flow.py`` runs); a
        killed run resumes where it stopped, as each entry is written
        atomically, and a stale or corrupt entry is replaced.

        Args:
            pairs: ``(frame_a, frame_b)`` image paths.
            progress: show a progress bar.

        Returns:
            The number of pairs computed.
        """
        return self.compute_pairs(self.to_compute(self.check(pairs)), progress)

    @property
    def needs_pixels(self) -> bool:
        """A cache that only reads (``on_missing='error'``) needs no pixels."""
        return self.on_missing == 'compute'

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> FlowResult:
        shape = img_a.shape[:2] if img_a is not None else None
        try:
            return self.cache.read(path_a, path_b, shape=shape), None
        except FlowCacheError:
            if self.on_missing == 'error':
                raise
        img_a = read_rgb(path_a) if img_a is None else img_a
        img_b = read_rgb(path_b) if img_b is None else img_b
        flow = self.compute(img_a, img_b)
        self.cache.write(path_a, path_b, flow)
        # Serve what the cache now holds (float16), so that a pair's flow
        # does not depend on whether its entry existed before.
        return flow.astype(np.float16).astype(np.float32), None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir={self.cache.cache_dir!r}, '
                f'on_missing={self.on_missing!r})')
