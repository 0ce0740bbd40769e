"""A precomputed-flow store: one file per frame pair, float16, atomic.

Layout of a cache folder::

    cache_meta.json              estimator config, dtype, data root
    <aa>/<sha1>.npy              flow of one (frame_a, frame_b) pair,
                                 (2, H, W) float16, x then y, pixels

The key of a pair is the SHA-1 of ``"<rel_a>|<rel_b>"`` with both paths
relative to the dataset's ``data_root`` (so a moved dataset keeps its cache).
float16 keeps about 3 significant digits: an error below 0.03 px for flows
under 64 px and below 0.25 px up to 512 px, well under the accuracy of any
flow estimator, at half the size of float32.

Entries are written atomically (:func:`atomic_write_bytes`), so a killed
precomputation leaves only complete entries and resumes where it stopped.
"""
import hashlib
import io
import json
import os
import os.path as osp
from typing import Optional, Tuple

import numpy as np

from ..utils.atomic import atomic_write_bytes

__all__ = ['FlowCache', 'FlowCacheError']


class FlowCacheError(RuntimeError):
    """A cache entry is missing or corrupt (the message names the pair).

    Attributes:
        missing: ``True`` when there is no entry, ``False`` when the entry
            exists but is unreadable, of the wrong shape/dtype or not finite.
    """

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class FlowCache:
    """Read/write access to a flow cache folder.

    Args:
        cache_dir: the folder.
        data_root: folder the frame paths are made relative to (the
            dataset's ``data_root``); ``None`` keeps absolute paths.
    """

    META = 'cache_meta.json'

    def __init__(self, cache_dir: str, data_root: Optional[str] = None) -> None:
        self.cache_dir = cache_dir
        self.data_root = data_root

    # ------------------------------------------------------------------
    def _rel(self, path: str) -> str:
        path = osp.abspath(path)
        if self.data_root:
            root = osp.abspath(self.data_root)
            if path.startswith(root + os.sep):
                return osp.relpath(path, root)
        return path

    def key(self, frame_a: str, frame_b: str) -> str:
        """The SHA-1 key of the pair (flow from frame_a to frame_b)."""
        name = f'{self._rel(frame_a)}|{self._rel(frame_b)}'
        return hashlib.sha1(name.encode()).hexdigest()

    def path(self, frame_a: str, frame_b: str) -> str:
        k = self.key(frame_a, frame_b)
        return osp.join(self.cache_dir, k[:2], k + '.npy')

    def has(self, frame_a: str, frame_b: str) -> bool:
        return osp.exists(self.path(frame_a, frame_b))

    # ------------------------------------------------------------------
    def write(self, frame_a: str, frame_b: str, flow: np.ndarray) -> None:
        """Stores ``flow`` ``(2, H, W)`` (pixels) as float16, atomically."""
        flow = np.asarray(flow)
        if flow.ndim != 3 or flow.shape[0] != 2:
            raise ValueError(f'flow of pair {frame_a} -> {frame_b} must be '
                             f'(2, H, W), got {flow.shape}')
        if not np.isfinite(flow).all():
            raise ValueError(f'flow of pair {frame_a} -> {frame_b} has NaN/Inf')
        with np.errstate(over='ignore'):
            half = flow.astype(np.float16)
        if not np.isfinite(half).all():  # beyond float16's range (65504)
            raise ValueError(f'flow of pair {frame_a} -> {frame_b} exceeds the '
                             f'float16 range (max |flow| '
                             f'{float(np.abs(flow).max()):g} > 65504 px)')
        buf = io.BytesIO()
        np.save(buf, half, allow_pickle=False)
        atomic_write_bytes(self.path(frame_a, frame_b), buf.getvalue())

    def read(self, frame_a: str, frame_b: str,
             shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
        """Returns the ``(2, H, W)`` float32 flow of the pair.

        Raises:
            FlowCacheError: the entry is missing, unreadable, of the wrong
                dtype/shape (``shape`` = expected ``(H, W)``) or not finite.
        """
        p = self.path(frame_a, frame_b)
        pair = f'{frame_a} -> {frame_b}'
        if not osp.exists(p):
            raise FlowCacheError(f'flow cache {self.cache_dir}: no entry for the '
                                 f'pair {pair} (expected {p}); run '
                                 'tools/precompute_flow.py for this dataset',
                                 missing=True)
        try:
            flow = np.load(p, allow_pickle=False)
            if not isinstance(flow, np.ndarray):  # e.g. a zip (.npz) file
                if hasattr(flow, 'close'):
                    flow.close()
                raise ValueError(f'not a .npy array but {type(flow).__name__}')
        except Exception as e:  # truncated or foreign file
            raise FlowCacheError(f'flow cache entry {p} for the pair {pair} is '
                                 f'corrupt ({type(e).__name__}: {e}); run '
                                 'tools/precompute_flow.py again (it repairs '
                                 'corrupt entries)') from e
        if (flow.dtype != np.float16 or flow.ndim != 3 or flow.shape[0] != 2
                or (shape is not None and tuple(flow.shape[1:]) != tuple(shape))):
            raise FlowCacheError(
                f'flow cache entry {p} for the pair {pair} is corrupt: '
                f'{flow.dtype} {flow.shape}, expected float16 (2, '
                f'{shape[0] if shape else "H"}, {shape[1] if shape else "W"})')
        flow = flow.astype(np.float32)
        if not np.isfinite(flow).all():
            raise FlowCacheError(f'flow cache entry {p} for the pair {pair} '
                                 'holds NaN/Inf')
        return flow

    def problem(self, frame_a: str, frame_b: str,
                shape: Optional[Tuple[int, int]] = None) -> Optional[str]:
        """What is wrong with the pair's entry: ``None`` (readable, float16
        ``(2, H, W)`` with ``shape`` = expected ``(H, W)``, finite),
        ``'missing'`` or ``'corrupt: <cause>'``."""
        try:
            self.read(frame_a, frame_b, shape=shape)
        except FlowCacheError as e:
            return 'missing' if e.missing else f'corrupt: {e}'
        return None

    # ------------------------------------------------------------------
    def read_meta(self) -> Optional[dict]:
        p = osp.join(self.cache_dir, self.META)
        if not osp.exists(p):
            return None
        with open(p) as f:
            return json.load(f)

    def write_meta(self, meta: dict) -> None:
        """Records what made the cache; refuses to mix estimators."""
        have = self.read_meta()
        # Compare as stored: JSON turns tuples (from configs) into lists.
        want = json.loads(json.dumps(meta.get('estimator')))
        if have is not None and have.get('estimator') != want:
            raise ValueError(
                f'flow cache {self.cache_dir} was made with estimator '
                f'{have.get("estimator")}, not {meta.get("estimator")}: use '
                'another cache folder')
        atomic_write_bytes(osp.join(self.cache_dir, self.META),
                           json.dumps(meta, indent=1, sort_keys=True).encode())
