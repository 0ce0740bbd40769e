"""The demo's video writer (issue 21, item 5): H.264 through PyAV is the
default browser-playable codec, written on the writer's thread and read
back with the right frame count and size; without PyAV the writer falls
back to OpenCV's codecs with one logged line."""
import logging

import cv2
import numpy as np
import pytest

from mmseg_temporal.visualization import video_writer
from mmseg_temporal.visualization.video_writer import (
    DEFAULT_CODECS,
    VideoWriterThread,
    open_video_writer,
)


def _frames(n, h=48, w=64):
    rng = np.random.default_rng(0)
    return [np.repeat(np.repeat(rng.integers(0, 255, (h // 8, w // 8, 3),
                                             dtype=np.uint8), 8, 0), 8, 1)
            for _ in range(n)]


def _read_back(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def test_h264_is_the_default_and_reads_back(tmp_path):
    av = pytest.importorskip('av')
    assert DEFAULT_CODECS[0] == 'libx264'
    path = tmp_path / 'v.mp4'
    frames = _frames(7)
    with VideoWriterThread(str(path), 15., max_queue=2) as writer:
        for f in frames:
            writer.write(f)
    assert writer.codec == 'libx264' and writer.frames_written == 7
    back = _read_back(path)
    assert len(back) == 7 and back[0].shape == (48, 64, 3)
    # H.264 in MP4 (what browsers play), lossy but close to the frames
    assert np.abs(back[3].astype(int) - frames[3]).mean() < 12
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == 'h264'
        assert stream.codec_context.pix_fmt == 'yuv420p'
        assert float(stream.average_rate) == pytest.approx(15.)
    head = path.read_bytes()[:4096]
    assert b'moov' in head  # the index at the front: plays while loading


def test_h264_pads_an_odd_size(tmp_path):
    pytest.importorskip('av')
    path = tmp_path / 'odd.mp4'
    writer, codec = open_video_writer(str(path), 10., (63, 47),
                                      codecs=('libx264',))
    for f in _frames(3, 48, 64):
        writer.write(np.ascontiguousarray(f[:47, :63]))
    writer.release()
    back = _read_back(path)
    assert codec == 'libx264' and len(back) == 3
    assert back[0].shape == (48, 64, 3)


def test_without_pyav_it_falls_back_with_one_logged_line(tmp_path,
                                                         monkeypatch,
                                                         caplog):
    monkeypatch.setattr(video_writer, '_have_pyav', lambda: False)
    monkeypatch.setattr(video_writer, '_PROBED', {})
    with caplog.at_level(logging.WARNING, logger=video_writer.__name__):
        writer, codec = open_video_writer(str(tmp_path / 'v.mp4'), 10.,
                                          (64, 48))
        for f in _frames(3):
            writer.write(f)
        writer.release()
        open_video_writer(str(tmp_path / 'w.mp4'), 10., (64, 48))[0].release()
    assert codec in ('avc1', 'vp09', 'mp4v')
    assert len(_read_back(tmp_path / 'v.mp4')) == 3
    lines = [r.getMessage() for r in caplog.records
             if 'needs PyAV' in r.getMessage()]
    assert len(lines) == 1 and 'pip install av' in lines[0]
    with pytest.raises(RuntimeError, match="none of the codecs \\['libx264'\\]"):
        open_video_writer(str(tmp_path / 'x.mp4'), 10., (64, 48),
                          codecs=('libx264',))
