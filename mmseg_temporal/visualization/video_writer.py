"""Writing the demo video in a codec browsers play: H.264 through PyAV
where it is installed, else VP9 or MPEG-4 through OpenCV.

OpenCV's pip wheels ship FFmpeg without an H.264 encoder (licensing): with
``opencv-python`` 4.x/5.0 'avc1'/'H264' do not open, 'vp09' (VP9 in MP4;
Chrome, Firefox, Edge and Safari play it) does but is slow (the demo ran at
5-13 % of the model's fps with it), and 'mp4v' (MPEG-4 part 2; most
browsers do not play it) always does. PyAV's wheels (the optional ``av``
package, installed by tools/install.sh) bundle FFmpeg with libx264: the
codec name ``'libx264'`` writes H.264 (yuv420p, MP4 with the index at the
front, :data:`H264_OPTIONS`), which every browser plays. Without PyAV,
``'libx264'`` is skipped with one logged line.

:func:`open_video_writer` takes the first codec of its list whose probe
video writes *and reads back*. Frames are encoded on a background thread
(OpenCV and PyAV's encoder release the GIL), so the encoder overlaps with
the next frame's inference.
"""
import contextlib
import logging
import os
import os.path as osp
import queue
import sys
import tempfile
import threading
from fractions import Fraction
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['open_video_writer', 'working_codecs', 'VideoWriterThread', 'DEFAULT_CODECS',
           'BROWSER_CODECS', 'PYAV_CODECS', 'PyAVWriter', 'H264_OPTIONS']

logger = logging.getLogger(__name__)
#: Codecs written through PyAV (FFmpeg encoder names); the others are
#: OpenCV FourCCs.
PYAV_CODECS = ('libx264',)
DEFAULT_CODECS = ('libx264', 'avc1', 'vp09', 'mp4v')
BROWSER_CODECS = ('libx264', 'avc1', 'H264', 'vp09', 'VP90')
#: libx264's settings, CRF 23 (its default quality) at preset 'ultrafast':
#: measured on 40 CamVid frames as demo canvases (480x408, Xeon, loaded
#: machine): ultrafast 2.3-2.9 ms a frame and 750 KiB, superfast 4.0 ms /
#: 450 KiB, veryfast 6.3-6.7 ms / 345 KiB; OpenCV's mp4v 1.5 ms / 855 KiB.
#: The encoder shares the cores with the model, so the cheapest preset.
H264_OPTIONS = {'preset': 'ultrafast', 'crf': '23'}
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


def _have_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


class PyAVWriter:
    """``cv2.VideoWriter``'s interface (:meth:`write` of BGR frames,
    :meth:`release`, :meth:`isOpened`) over a PyAV encoder: ``codec`` an
    FFmpeg encoder name (``'libx264'``), ``size = (W, H)``; odd sizes are
    padded by one edge row/column (yuv420p needs even ones)."""

    def __init__(self, path: str, codec: str, fps: float,
                 size: Tuple[int, int],
                 options: Optional[Dict[str, str]] = None) -> None:
        import av
        fmt = {'.mp4': dict(movflags='faststart'),
               '.mov': dict(movflags='faststart')}
        self._container = av.open(path, 'w', options=fmt.get(
            osp.splitext(path)[1].lower(), {}))
        try:
            rate = Fraction(float(fps)).limit_denominator(1001)
            self._stream = self._container.add_stream(codec, rate=rate)
            w, h = (int(s) for s in size)
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = 'yuv420p'
            self._stream.options = dict(
                H264_OPTIONS if codec == 'libx264' else {}, **(options or {}))
        except BaseException:
            self._container.close()
            raise
        self._open = True

    def isOpened(self) -> bool:  # noqa: N802 (cv2.VideoWriter's name)
        return self._open

    def write(self, frame: np.ndarray) -> None:
        import av
        h, w = self._stream.height, self._stream.width
        if frame.shape[:2] != (h, w):  # odd size: repeat the last row/col
            frame = np.pad(frame, ((0, h - frame.shape[0]),
                                   (0, w - frame.shape[1]), (0, 0)), 'edge')
        image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame),
                                           format='bgr24')
        for packet in self._stream.encode(image):
            self._container.mux(packet)

    def release(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            for packet in self._stream.encode(None):  # flush
                self._container.mux(packet)
        finally:
            self._container.close()


def _open_writer(path: str, codec: str, fps: float, size: Tuple[int, int]):
    """A PyAV writer for :data:`PYAV_CODECS`, else an OpenCV one."""
    if codec in PYAV_CODECS:
        return PyAVWriter(path, codec, fps, size)
    return cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), float(fps),
                           tuple(int(s) for s in size))


def _pyav_missing(codec: str) -> bool:
    """True (and one logged line, once) when ``codec`` needs PyAV and it
    is not installed."""
    if codec not in PYAV_CODECS or _have_pyav():
        return False
    if ('pyav-missing', codec) not in _PROBED:
        _PROBED['pyav-missing', codec] = False
        logger.warning(
            'video writer: %s (H.264) needs PyAV, which is not installed; '
            'falling back to the next codec of the list (pip install av, or '
            'bash tools/install.sh, for a fast browser-playable video)', codec)
    return True


def _codec_works(codec: str, ext: str) -> bool:
    """Writes two 64x64 frames with ``codec`` and reads one back."""
    if _pyav_missing(codec):
        return False
    if (codec, ext) in _PROBED:
        return _PROBED[codec, ext]
    with _PROBE_LOCK, tempfile.TemporaryDirectory() as tmp, _quiet():
        path = osp.join(tmp, 'probe' + ext)
        try:
            writer = _open_writer(path, codec, 10., (64, 64))
            ok = writer.isOpened()
            if ok:
                for v in (0, 128):
                    writer.write(np.full((64, 64, 3), v, np.uint8))
            writer.release()
        except Exception:  # noqa: BLE001 (PyAV: no such codec/container)
            ok = False
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
                           f'({cv2.__version__}) or PyAV')
    return working


def open_video_writer(path: str, fps: float, size: Tuple[int, int],
                      codecs: Sequence[str] = DEFAULT_CODECS
                      ) -> Tuple['cv2.VideoWriter', str]:
    """An opened ``cv2.VideoWriter`` (a :class:`PyAVWriter` for
    :data:`PYAV_CODECS`) for ``size = (W, H)`` and the codec it uses: the
    first of ``codecs`` that works here.

    Raises:
        RuntimeError: naming ``path`` and the codecs tried, when none works.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    for codec in working_codecs(path, codecs):
        writer = _open_writer(path, codec, fps, size)
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
            :class:`mmseg_temporal.demo.canvas.DemoCanvas`); ``None``: ``write``
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
