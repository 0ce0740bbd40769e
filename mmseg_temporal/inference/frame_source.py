"""Frames, one at a time, from a video file, a folder of images, a camera or
a stream: what every per-frame model of :mod:`mmseg_temporal.inference` reads.

Video files, cameras and stream URLs all go through one OpenCV path
(:func:`open_capture`, ``cv2.VideoCapture``); a folder is read with
``cv2.imread``. Frames are ``(H, W, 3)`` uint8 BGR, all of the first frame's
size. Nothing is buffered: memory stays flat on an endless stream.
"""
import fnmatch
import os
import os.path as osp
from typing import Iterator, List, Optional, Union

import cv2
import numpy as np

__all__ = ['VideoInputError', 'FrameSource', 'open_capture']

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')
KINDS = ('file', 'folder', 'camera', 'stream')


class VideoInputError(ValueError):
    """An input (video, folder, camera, stream) that cannot be used; the
    message names it."""


def open_capture(source: Union[str, int]) -> 'cv2.VideoCapture':
    """``cv2.VideoCapture`` of a video file, camera index or stream URL,
    opened and checked: raises :class:`VideoInputError` naming ``source``
    when OpenCV cannot open it."""
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        cap.release()
        what = f'camera {source}' if isinstance(source, int) else repr(source)
        raise VideoInputError(f'cannot open {what} (OpenCV '
                              f'{cv2.__version__} cannot read it)')
    return cap


def _guess_kind(source: Union[str, int]) -> str:
    if isinstance(source, int) or (isinstance(source, str)
                                   and source.isdigit()):
        return 'camera'
    if '://' in source:
        return 'stream'
    return 'folder' if osp.isdir(source) else 'file'


class FrameSource:
    """Frames of a video file (any format OpenCV reads), a folder of images
    (sorted by file name), a camera (an index, e.g. ``0``) or a stream URL
    (``rtsp://``, ``http://``, ... whatever OpenCV's backends read).

    Files and folders are checked on construction: a missing path raises
    ``FileNotFoundError``; a video OpenCV cannot open, a video without a
    readable frame or a folder without images raise
    :class:`VideoInputError`, all naming the input. A camera or stream is
    opened when iterated (and the error names it then); it counts as
    endless (``len() == 0``) and is read once.

    Args:
        source: path, camera index or URL.
        max_frames: read at most this many frames (``None``: all).
        fps: frame rate reported for a folder, camera or stream whose
            backend reports none.
        pattern: for a folder, a glob the frame file names must match
            (e.g. ``'*_img.png'``); ``None`` takes every image.
        kind: one of ``'file'``, ``'folder'``, ``'camera'``, ``'stream'``;
            ``None`` guesses it from ``source``. ``kind='stream'`` with a
            video file reads it like a live stream (no frame count).
    """

    def __init__(self, source: Union[str, int, os.PathLike],
                 max_frames: Optional[int] = None, fps: float = 10.,
                 pattern: Optional[str] = None,
                 kind: Optional[str] = None) -> None:
        if not isinstance(source, int):
            source = os.fspath(source)
        if max_frames is not None and max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        self.kind = kind or _guess_kind(source)
        if self.kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
        if self.kind == 'camera':
            source = int(source)
        self.source, self.path = source, str(source)
        self.max_frames, self.fps = max_frames, float(fps)
        self.files: List[str] = []
        self._count: Optional[int] = None
        if self.kind == 'folder':
            self._list_folder(pattern)
        elif self.kind == 'file':
            self._probe_file()

    @property
    def is_live(self) -> bool:
        """A camera or stream: no frame count, read once."""
        return self.kind in ('camera', 'stream')

    def _list_folder(self, pattern: Optional[str]) -> None:
        if not osp.isdir(self.path):
            raise FileNotFoundError(f'frame folder not found: {self.path}')
        self.files = sorted(
            osp.join(self.path, f) for f in os.listdir(self.path)
            if f.lower().endswith(IMAGE_EXTS)
            and (pattern is None or fnmatch.fnmatch(f, pattern))
            and osp.isfile(osp.join(self.path, f)))
        if not self.files:
            raise VideoInputError(
                f'no frames ({"/".join(IMAGE_EXTS)}'
                f'{", matching " + repr(pattern) if pattern else ""}) in '
                f'folder {self.path}')
        self._count = len(self.files)

    def _probe_file(self) -> None:
        if not osp.exists(self.path):
            raise FileNotFoundError(f'input video or frame folder not found: '
                                    f'{self.path}')
        cap = open_capture(self.path)
        try:
            if not cap.read()[0]:
                raise VideoInputError(f'no frame can be read from video '
                                      f'{self.path}')
            self._take_fps(cap)
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self._count = n if n > 0 else None
        finally:
            cap.release()

    def _take_fps(self, cap) -> None:
        fps = cap.get(cv2.CAP_PROP_FPS)
        if fps and np.isfinite(fps) and 0 < fps < 1000:
            self.fps = float(fps)

    def __len__(self) -> int:
        """Expected number of frames (a video's header count may be off by
        a few; iteration stops at the real end); 0 when unknown (a camera
        or stream without ``max_frames``)."""
        if self.is_live or not self._count:
            return (self.max_frames or 0) if self.is_live else 0
        return min(self._count, self.max_frames or self._count)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yields ``(H, W, 3)`` uint8 BGR frames, all of the first frame's
        size (a frame of another size raises, naming it)."""
        size = None
        for i, frame in enumerate(self._raw()):
            if self.max_frames is not None and i >= self.max_frames:
                return
            if frame.ndim == 2:  # a grey image or a grey camera
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                where = self.files[i] if self.files else \
                    f'{self.path} (frame {i})'
                raise VideoInputError(
                    f'{where}: frame size {frame.shape[1]}x{frame.shape[0]} '
                    f'differs from the first frame\'s {size[1]}x{size[0]}')
            yield frame

    def _raw(self) -> Iterator[np.ndarray]:
        if self.kind == 'folder':
            for f in self.files:
                img = cv2.imread(f, cv2.IMREAD_COLOR)
                if img is None:
                    raise VideoInputError(f'cannot read image {f}')
                yield img
            return
        cap = open_capture(self.source)
        try:
            if self.is_live:
                self._take_fps(cap)
            while True:
                ok, img = cap.read()
                if not ok:
                    return
                yield img
        finally:
            cap.release()
