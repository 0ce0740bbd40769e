"""Reading ahead on a background thread: the items of an iterator, produced
while the consumer works on the previous ones.

Decoding a frame (``cv2.imread``, ``cv2.VideoCapture.read``) releases the
GIL, so a reader thread overlaps it with the model call of the frame
before. The queue is bounded: memory stays flat on an endless stream, and
the reader blocks when the consumer falls behind.
"""
import queue
import threading
import warnings
from typing import Iterable, Iterator, TypeVar

__all__ = ['prefetch']

Item = TypeVar('Item')
_END = object()


def _put(out: 'queue.Queue', entry, stop: threading.Event) -> bool:
    """Puts ``entry`` unless the consumer has stopped; False if it has."""
    while not stop.is_set():
        try:
            out.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Iterable, out: 'queue.Queue', stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(out, (item, None), stop):
                return
        _put(out, (_END, None), stop)
    except BaseException as e:  # noqa: BLE001 (re-raised by the consumer)
        _put(out, (_END, e), stop)


def prefetch(items: Iterable[Item], depth: int = 2) -> Iterator[Item]:
    """Yields the items of ``items`` in order, reading up to ``depth`` of
    them ahead on a daemon thread; an exception of the reader is raised
    here, at the item where it happened. ``depth=0`` iterates in the
    calling thread. Closing the generator (``break`` in a ``for``) stops
    the reader. Items read ahead but not taken when it closes are dropped:
    hand it an iterator nobody else reads."""
    if depth < 0:
        raise ValueError(f'depth must be >= 0, got {depth}')
    if depth == 0:
        for item in items:  # not ``yield from``: closing this generator
            yield item      # must not close the caller's iterator
        return
    out: 'queue.Queue' = queue.Queue(maxsize=depth)
    stop = threading.Event()
    reader = threading.Thread(target=_produce, args=(items, out, stop),
                              daemon=True, name='prefetch')
    reader.start()
    try:
        while True:
            item, error = out.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while True:  # what is queued is dropped; the reader sees stop
            try:
                out.get_nowait()
            except queue.Empty:
                break
        reader.join(timeout=5)
        if reader.is_alive():  # blocked inside the source's own read
            warnings.warn('prefetch: the reader thread is still inside the '
                          "source's read after 5 s; left to finish on its own")
