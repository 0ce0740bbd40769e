"""PrecomputedFlow: a flow source that reads a flow cache by frame paths."""
from typing import Iterable, Optional, Tuple

import numpy as np
from mmseg.registry import MODELS
from tqdm import tqdm

from ...utils.image import read_rgb
from .base import flow_of_images
from .flow_cache import FlowCache, FlowCacheError

__all__ = ['PrecomputedFlow']


@MODELS.register_module()
class PrecomputedFlow:
    """Serves the flow of a frame pair from a cache made by
    ``tools/precompute_flow.py``; the flow network need not run at all.

    ``flow = source(path_a, path_b, img_a, img_b)`` returns the ``(2, H, W)``
    float32 flow from frame a to frame b (x then y, pixels). The images
    (``(H, W, 3)`` uint8 RGB) are only used to check the size and, with
    ``on_missing='compute'``, to compute a missing entry. This is the call
    signature of ``TemporalConsistencyMetric(flow_provider=...)``.

    Args:
        cache_dir: the cache folder.
        data_root: the dataset's ``data_root`` (keys are relative to it).
        on_missing: ``'error'`` (a missing or corrupt entry raises
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
        self._estimator = None

    def compute(self, img_a: np.ndarray, img_b: np.ndarray) -> np.ndarray:
        """Flow of two ``(H, W, 3)`` uint8 RGB images with the estimator."""
        if self.estimator_cfg is None:
            raise ValueError(f'{self!r} has no estimator config to compute '
                             'flows with')
        if self._estimator is None:
            self._estimator = MODELS.build(self.estimator_cfg)
            if self.device is not None:
                self._estimator = self._estimator.to(self.device)
        return flow_of_images(self._estimator, img_a, img_b)

    def fill(self, pairs: Iterable[Tuple[str, str]],
             progress: bool = True) -> int:
        """Computes and stores every pair of ``pairs`` not in the cache yet
        (what ``tools/precompute_flow.py`` runs); a killed run resumes where
        it stopped, as each entry is written atomically.

        Args:
            pairs: ``(frame_a, frame_b)`` image paths.
            progress: show a progress bar.

        Returns:
            The number of pairs computed.
        """
        todo = [p for p in pairs if not self.cache.has(*p)]
        for a, b in tqdm(todo, desc='flow', unit='pair', disable=not progress):
            self.cache.write(a, b, self.compute(read_rgb(a), read_rgb(b)))
        return len(todo)

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> np.ndarray:
        shape = img_a.shape[:2] if img_a is not None else None
        try:
            return self.cache.read(path_a, path_b, shape=shape)
        except FlowCacheError:
            if self.on_missing == 'error' or img_a is None or img_b is None:
                raise
        flow = self.compute(img_a, img_b)
        self.cache.write(path_a, path_b, flow)
        # Serve what the cache now holds (float16), so that a pair's flow
        # does not depend on whether its entry existed before.
        return flow.astype(np.float16).astype(np.float32)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir={self.cache.cache_dir!r}, '
                f'on_missing={self.on_missing!r})')
