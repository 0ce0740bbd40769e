"""Writing the demo video with OpenCV, in a codec browsers play where the
installed OpenCV has one.

OpenCV's pip wheels ship FFmpeg without an H.264 encoder (licensing): with
``opencv-python-headless`` 5.0 'avc1'/'H264' do not open, 'vp09' (VP9 in
MP4; Chrome, Firefox, Edge and Safari play it) does, and 'mp4v' (MPEG-4
part 2; most browsers do not play it) always does. :func:`open_video_writer`
takes the first codec of its list whose probe video writes *and reads back*.
Frames are encoded on a background thread (OpenCV releases the GIL), so the
encoder overlaps with the next frame's inference.
"""
import contextlib
import os
import os.path as osp
import queue
import sys
import tempfile
import threading
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['open_video_writer', 'working_codecs', 'VideoWriterThread', 'DEFAULT_CODECS',
           'BROWSER_CODECS']

DEFAULT_CODECS = ('avc1', 'vp09', 'mp4v')
BROWSER_CODECS = ('avc1', 'H264', 'vp09', 'VP90')
_PROBED = {}
_PROBE_LOCK = threading.Lock()  # _quiet redirects the process's stderr


@contextlib.contextmanager
def _quiet():
    """OpenCV's and FFmpeg's complaints about a codec they lack (FFmpeg
    writes to file descriptor 2 itself) are not shown while probing."""
    log = cv2.utils.logging
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        log.setLogLevel(level)


def _codec_works(codec: str, ext: str) -> bool:
    """Writes two 64x64 frames with ``codec`` and reads one back."""
    if (codec, ext) in _PROBED:
        return _PROBED[codec, ext]
    with _PROBE_LOCK, tempfile.TemporaryDirectory() as tmp, _quiet():
        path = osp.join(tmp, 'probe' + ext)
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 10.,
                                 (64, 64))
        ok = writer.isOpened()
        if ok:
            for v in (0, 128):
                writer.write(np.full((64, 64, 3), v, np.uint8))
        writer.release()
        cap = cv2.VideoCapture(path)
        ok = ok and cap.isOpened() and cap.read()[0]
        cap.release()
    _PROBED[codec, ext] = bool(ok)
    return bool(ok)


def working_codecs(path: str, codecs: Sequence[str]) -> Tuple[str, ...]:
    """The ``codecs`` this OpenCV writes and reads back for ``path``'s
    container, in order of preference.

    Raises:
        RuntimeError: naming ``path`` and the codecs tried, when none works.
    """
    ext = osp.splitext(path)[1] or '.mp4'
    working = tuple(c for c in codecs if _codec_works(c, ext))
    if not working:
        raise RuntimeError(f'cannot write video {path}: none of the codecs '
                           f'{list(codecs)} works with this OpenCV '
                           f'({cv2.__version__})')
    return working


def open_video_writer(path: str, fps: float, size: Tuple[int, int],
                      codecs: Sequence[str] = DEFAULT_CODECS
                      ) -> Tuple['cv2.VideoWriter', str]:
    """An opened ``cv2.VideoWriter`` for ``size = (W, H)`` and the codec
    (FourCC) it uses: the first of ``codecs`` that works here.

    Raises:
        RuntimeError: naming ``path`` and the codecs tried, when none works.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    for codec in working_codecs(path, codecs):
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec),
                                 float(fps), tuple(int(s) for s in size))
        if writer.isOpened():
            return writer, codec
        writer.release()
    raise RuntimeError(f'cannot write video {path}: none of the codecs '
                       f'{list(codecs)} opens at size {tuple(size)}')


class VideoWriterThread:
    """Frames go through a bounded queue to a thread that encodes them
    (and, with ``render``, draws them first).

    Args:
        path, fps: as for :func:`open_video_writer`.
        codecs: codec preference.
        max_queue: frames waiting at most (the producer blocks beyond).
        render: called on the thread with the arguments of each
            :meth:`write`, returns the BGR frame to encode (e.g. a
            :class:`mmseg_temporal.apis.DemoCanvas`); ``None``: ``write``
            takes the frame itself.

    The codecs are probed here, on the caller's thread (a codec this
    OpenCV lacks raises now, naming ``path``); the file opens on the
    thread with the first frame's size. Read :attr:`codec` and
    :attr:`frames_written` after :meth:`close`.
    """

    def __init__(self, path: str, fps: float,
                 codecs: Sequence[str] = DEFAULT_CODECS,
                 max_queue: int = 8,
                 render: Optional[Callable[..., np.ndarray]] = None) -> None:
        self.path, self.fps = path, fps
        self.codecs = working_codecs(path, codecs)
        self.render = render
        self.codec: Optional[str] = None
        self.frames_written = 0
        self._queue: 'queue.Queue' = queue.Queue(maxsize=max_queue)
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._error_raised = False

    def _run(self) -> None:
        writer = None
        try:
            while True:
                args = self._queue.get()
                if args is None:
                    return
                frame = self.render(*args) if self.render else args[0]
                if writer is None:
                    h, w = frame.shape[:2]
                    writer, self.codec = open_video_writer(
                        self.path, self.fps, (w, h), self.codecs)
                writer.write(frame)
                self.frames_written += 1
        except BaseException as e:  # noqa: BLE001 (re-raised in write)
            self._error = e
            while self._queue.get() is not None:  # unblock the producer
                pass
        finally:
            if writer is not None:
                writer.release()

    def write(self, *args) -> None:
        """Queues one BGR frame, or the arguments of ``render`` for one
        (all frames of one size; even sizes suit every codec)."""
        self._raise_error()
        if not self.render and len(args) != 1:
            raise TypeError(f'write takes one frame without render, got '
                            f'{len(args)} arguments')
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='video-writer')
            self._thread.start()
        self._queue.put(args)

    def _raise_error(self) -> None:
        """Raises the thread's error once (naming the file and the cause)."""
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise RuntimeError(f'writing {self.path} failed: '
                               f'{self._error!r}') from self._error

    def close(self) -> None:
        """Waits for the queued frames to be written and closes the file;
        raises the thread's error unless :meth:`write` already did."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_error()

    def __enter__(self) -> 'VideoWriterThread':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
