"""A precomputed-flow store: one file per frame pair, float16, atomic.

Layout of a cache folder::

    cache_meta.json              estimator config, dtype, data root
    <aa>/<sha1>.<stamp>.npy      flow of one (frame_a, frame_b) pair,
                                 (2, H, W) float16, x then y, pixels

The key of a pair is the SHA-1 of ``"<rel_a>|<rel_b>"`` with both paths
relative to the dataset's ``data_root`` (so a moved dataset keeps its cache);
the stamp hashes each frame's size and modification time, so a replaced
frame makes its entries *stale* (reported as such, recomputed by
``tools/precompute_flow.py``, refused by a reader) instead of serving the
old frame's flow. Copying a dataset without keeping modification times
(``cp`` without ``-p``) makes every entry stale. One cache holds the flows
of one estimator: ``cache_meta.json`` names it, and a writer with another
estimator is refused with both names.
float16 keeps about 3 significant digits: an error below 0.03 px for flows
under 64 px and below 0.25 px up to 512 px, well under the accuracy of any
flow estimator, at half the size of float32.

Entries are written atomically (:func:`atomic_write_bytes`), so a killed
precomputation leaves only complete entries and resumes where it stopped.
"""
import glob
import hashlib
import inspect
import io
import json
import os
import os.path as osp
import tempfile
from typing import List, Optional, Tuple

import numpy as np
from mmseg.registry import MODELS

from ...utils.atomic import atomic_write_bytes
from ...utils.errors import DataError

__all__ = ['FlowCache', 'FlowCacheError', 'same_estimator']

KINDS = ('missing', 'stale', 'corrupt', 'unusable')


class FlowCacheError(DataError):
    """A cache entry is missing, stale or corrupt (the message names the
    pair), or the cache cannot be used (another estimator's, unwritable).

    Attributes:
        kind: ``'missing'`` (no entry), ``'stale'`` (an entry of an earlier
            version of a frame), ``'corrupt'`` (unreadable, of the wrong
            shape/dtype or not finite) or ``'unusable'`` (the cache).
        missing: ``kind == 'missing'``.
    """

    def __init__(self, message: str, missing: bool = False,
                 kind: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind or ('missing' if missing else 'corrupt')
        self.missing = self.kind == 'missing'


def _estimator_key(cfg) -> object:
    """An estimator config as stored (JSON: tuples become lists) with the
    registered class's defaults filled in, so ``dict(type='DISFlow')`` and
    ``dict(type='DISFlow', preset='medium')`` are one estimator."""
    cfg = json.loads(json.dumps(cfg))
    if not isinstance(cfg, dict) or not isinstance(cfg.get('type'), str):
        return cfg
    cls = MODELS.get(cfg['type'])
    if cls is None:
        return cfg
    full = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name != 'self' and p.default is not inspect.Parameter.empty:
            try:
                full[name] = json.loads(json.dumps(p.default))
            except (TypeError, ValueError):
                continue
    full.update(cfg)
    return full


def same_estimator(a, b) -> bool:
    """Whether two estimator configs name the same estimator."""
    return _estimator_key(a) == _estimator_key(b)


def _frame_stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'frame not found: {path} (the flow cache '
                                'keys a pair by its frames\' size and '
                                'modification time)') from e
    return f'{st.st_size}:{st.st_mtime_ns}'


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

    @staticmethod
    def stamp(frame_a: str, frame_b: str) -> str:
        """16 hex digits of the frames' sizes and modification times."""
        both = f'{_frame_stamp(frame_a)}|{_frame_stamp(frame_b)}'
        return hashlib.sha1(both.encode()).hexdigest()[:16]

    def path(self, frame_a: str, frame_b: str) -> str:
        """The entry of the pair for the frames as they are now."""
        k = self.key(frame_a, frame_b)
        return osp.join(self.cache_dir, k[:2],
                        f'{k}.{self.stamp(frame_a, frame_b)}.npy')

    def _others(self, frame_a: str, frame_b: str) -> List[str]:
        """The pair's entries other than :meth:`path`: made from earlier
        versions of a frame (or by a version of the cache without stamps)."""
        k = self.key(frame_a, frame_b)
        current = self.path(frame_a, frame_b)
        return [p for p in glob.glob(osp.join(glob.escape(self.cache_dir),
                                              k[:2], k + '*.npy'))
                if p != current]

    def has(self, frame_a: str, frame_b: str) -> bool:
        """Whether the frames, as they are now, have an entry (``False``
        when a frame is missing)."""
        try:
            return osp.exists(self.path(frame_a, frame_b))
        except FileNotFoundError:
            return False

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
        for old in self._others(frame_a, frame_b):  # stale entries
            try:
                os.remove(old)
            except FileNotFoundError:
                pass

    def read(self, frame_a: str, frame_b: str,
             shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
        """Returns the ``(2, H, W)`` float32 flow of the pair.

        Raises:
            FlowCacheError: the entry is missing, stale (a frame changed
                since its flow was computed), unreadable, of the wrong
                dtype/shape (``shape`` = expected ``(H, W)``) or not finite.
            FileNotFoundError: a frame is missing (named).
        """
        p = self.path(frame_a, frame_b)
        pair = f'{frame_a} -> {frame_b}'
        if not osp.exists(p):
            if self._others(frame_a, frame_b):
                raise FlowCacheError(
                    f'flow cache {self.cache_dir}: the entry for the pair '
                    f'{pair} is stale (a frame\'s size or modification time '
                    'changed since its flow was computed); run '
                    'tools/precompute_flow.py again', kind='stale')
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
        ``'missing'``, ``'stale'`` or ``'corrupt: <cause>'``."""
        try:
            self.read(frame_a, frame_b, shape=shape)
        except FlowCacheError as e:
            return f'corrupt: {e}' if e.kind == 'corrupt' else e.kind
        return None

    # ------------------------------------------------------------------
    def read_meta(self) -> Optional[dict]:
        p = osp.join(self.cache_dir, self.META)
        if not osp.exists(p):
            return None
        with open(p) as f:
            return json.load(f)

    def check_estimator(self, estimator) -> None:
        """Raises :class:`FlowCacheError` naming both estimators when the
        cache holds another estimator's flows (``cache_meta.json``)."""
        have = self.read_meta()
        if have is not None and not same_estimator(have.get('estimator'),
                                                   estimator):
            raise FlowCacheError(
                f'flow cache {self.cache_dir} holds the flows of estimator '
                f'{json.dumps(have.get("estimator"))}, not '
                f'{json.dumps(estimator)}: one cache holds one estimator; use '
                'another cache folder', kind='unusable')

    def write_meta(self, meta: dict) -> None:
        """Records what made the cache; refuses to mix estimators."""
        self.check_estimator(meta.get('estimator'))
        atomic_write_bytes(osp.join(self.cache_dir, self.META),
                           json.dumps(meta, indent=1, sort_keys=True).encode())

    def check_writable(self) -> None:
        """Creates the folder and writes a probe file there, before any
        work: an unwritable cache is one :class:`FlowCacheError` line."""
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix='.write-probe-',
                                         dir=self.cache_dir)
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            raise FlowCacheError(
                f'flow cache folder {self.cache_dir} is not writable '
                f'({type(e).__name__}: {e.strerror or e}); give a folder you '
                'can write to (--out, or the cache_dir of the config)',
                kind='unusable') from e
