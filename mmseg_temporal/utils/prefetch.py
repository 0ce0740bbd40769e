"""Reading ahead on a background thread: the items of an iterator, produced
while the consumer works on the previous ones.

Decoding a frame (``cv2.imread``, ``cv2.VideoCapture.read``) releases the
GIL, so a reader thread overlaps it with the model call of the frame
before. The queue is bounded: memory stays flat on an endless stream, and
the reader blocks when the consumer falls behind.
"""
import queue
import threading
from typing import Iterable, Iterator, TypeVar

__all__ = ['prefetch']

Item = TypeVar('Item')
_END = object()


def _produce(items: Iterable, out: 'queue.Queue', stop: threading.Event) -> None:
    try:
        for item in items:
            while not stop.is_set():
                try:
                    out.put((item, None), timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        out.put((_END, None))
    except BaseException as e:  # noqa: BLE001 (re-raised by the consumer)
        out.put((_END, e))


def prefetch(items: Iterable[Item], depth: int = 2) -> Iterator[Item]:
    """Yields the items of ``items`` in order, reading up to ``depth`` of
    them ahead on a daemon thread; an exception of the reader is raised
    here, at the item where it happened. ``depth=0`` iterates in the
    calling thread. Closing the generator (``break`` in a ``for``) stops
    the reader."""
    if depth < 0:
        raise ValueError(f'depth must be >= 0, got {depth}')
    if depth == 0:
        yield from items
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
        reader.join(timeout=5)
