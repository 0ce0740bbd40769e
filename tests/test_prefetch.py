"""Reading ahead on a thread (utils.prefetch) and drawing on the writer's
thread (VideoWriterThread(render=...))."""
import itertools
import threading
import time

import cv2
import numpy as np
import pytest

from mmseg_temporal.utils.prefetch import prefetch
from mmseg_temporal.visualization import VideoWriterThread


def test_prefetch_keeps_order_and_reads_on_another_thread():
    threads = []

    def items():
        for i in range(50):
            threads.append(threading.get_ident())
            yield i

    assert list(prefetch(items(), depth=3)) == list(range(50))
    assert set(threads) == {threads[0]} and threads[0] != threading.get_ident()
    assert list(prefetch(iter(range(5)), depth=0)) == list(range(5))
    with pytest.raises(ValueError, match='depth'):
        list(prefetch([], depth=-1))


def test_prefetch_raises_the_readers_error_where_it_happened():
    def items():
        yield 1
        yield 2
        raise OSError('cannot read frame 0003.png')

    got = []
    with pytest.raises(OSError, match='0003.png'):
        for x in prefetch(items(), depth=2):
            got.append(x)
    assert got == [1, 2]


def test_prefetch_is_bounded_and_stops_when_closed():
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i

    stream = prefetch(endless(), depth=2)
    assert next(stream) == 0
    time.sleep(0.2)
    assert len(pulled) <= 1 + 2 + 1  # the one taken, the queue, one held
    stream.close()
    done = len(pulled)
    time.sleep(0.3)
    assert len(pulled) == done


def test_writer_renders_on_its_thread(tmp_path):
    drawn = []

    def render(frame, value):
        drawn.append(threading.get_ident())
        return np.full_like(frame, value)

    path = str(tmp_path / 'v.mp4')
    writer = VideoWriterThread(path, 10., codecs=('mp4v',), render=render)
    for v in (0, 128, 255):
        writer.write(np.zeros((32, 48, 3), np.uint8), v)
    writer.close()
    assert writer.codec == 'mp4v' and writer.frames_written == 3
    assert set(drawn) == {drawn[0]} and drawn[0] != threading.get_ident()
    cap = cv2.VideoCapture(path)
    means = [cap.read()[1].mean() for _ in range(3)]
    assert means[0] < 20 and 100 < means[1] < 160 and means[2] > 230


def test_writer_error_on_its_thread_is_raised_once(tmp_path):
    def render(frame):
        raise ValueError('bad label map')

    writer = VideoWriterThread(str(tmp_path / 'v.mp4'), 10., codecs=('mp4v',),
                               render=render)
    errors = []
    for _ in range(20):  # more than the queue: the producer must not hang
        try:
            writer.write(np.zeros((8, 8, 3), np.uint8))
        except RuntimeError as e:
            errors.append(e)
            break
    try:
        writer.close()
    except RuntimeError as e:
        errors.append(e)
    assert len(errors) == 1  # by write or by close, not both
    assert 'v.mp4' in str(errors[0]) and 'bad label map' in str(errors[0])


def test_writer_without_a_working_codec_fails_at_once(tmp_path):
    with pytest.raises(RuntimeError, match='v.avi.*none of the codecs'):
        VideoWriterThread(str(tmp_path / 'v.avi'), 10., codecs=('XXXX',))


def test_prefetch_closed_near_the_end_leaves_no_thread():
    """The consumer stops with the queue full and the end marker pending:
    the reader must not stay blocked on it."""
    for stop_at in (8, 9, 10):
        stream = prefetch(iter(range(12)), depth=2)
        for _ in range(stop_at):
            next(stream)
        time.sleep(0.2)  # let the reader fill the queue
        stream.close()
        assert not [t for t in threading.enumerate()
                    if t.name == 'prefetch' and t.is_alive()]


def test_prefetch_without_a_thread_leaves_the_source_open():
    source = iter(range(10))
    stream = prefetch(source, depth=0)
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert next(source) == 2
