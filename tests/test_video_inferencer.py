"""VideoInferencer: the same labels from PyTorch and onnxruntime on a short
synthetic video; camera and stream sources through the same OpenCV path;
errors naming an unreadable source; EMA smoothing against a naive loop;
motion-compensated smoothing with a flow source; no buffering on an endless
stream."""
import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.inference import frame_source as frame_source_module
from mmseg_temporal.inference.frame_source import FrameSource, VideoInputError
from mmseg_temporal.inference.inferencer import EMASmoother, VideoInferencer, ema_smooth_logits
from mmseg_temporal.models.segmentors.student_config import student_model_config

pytest.importorskip('onnxruntime')

SYN_CFG = Path(__file__).resolve().parents[1] / \
    'configs/synthetic/pspnet_tiny_baseline_synthetic.py'
NUM_FRAMES = 6


def write_video(path, num_frames=NUM_FRAMES, size=(128, 96)):
    """A moving-shapes mp4 (the synthetic video's size, 128x96)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5.,
                             (w, h))
    assert writer.isOpened()
    for t in range(num_frames):
        img = np.full((h, w, 3), 90, np.uint8)
        img[: h // 3] = (180, 130, 70)
        cv2.rectangle(img, (10 + 6 * t, 40), (50 + 6 * t, 80), (0, 200, 255),
                      -1)
        cv2.circle(img, (100 - 4 * t, 30), 12, (35, 142, 107), -1)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """An exported tiny synthetic student (random weights) and its ONNX."""
    tmp = tmp_path_factory.mktemp('inferencer')
    config = SYN_CFG
    torch.manual_seed(0)
    model = MODELS.build(student_model_config(Config.fromfile(str(config))))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), tmp / 'random.pth')
    cfg, ckpt = export_student(str(config), str(tmp / 'random.pth'),
                               str(tmp / 'tiny_baseline'))
    onnx_file = tmp / 'tiny_baseline.onnx'
    export_onnx(cfg, ckpt, str(onnx_file))
    return cfg, ckpt, str(onnx_file)


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp('video') / 'clip.mp4')


def test_both_backends_give_the_same_labels(models, video):
    cfg, ckpt, onnx_file = models
    torch_preds = list(VideoInferencer(cfg, ckpt)(str(video)))
    ort = VideoInferencer(onnx_file)
    assert ort.backend == 'onnxruntime' and ort.name == 'tiny_baseline'
    ort_preds = list(ort(str(video)))
    assert len(torch_preds) == len(ort_preds) == NUM_FRAMES
    for a, b in zip(torch_preds, ort_preds):
        assert a.index == b.index and a.label.shape == (96, 128)
        assert (a.label == b.label).mean() >= 0.999
        for key in ('read', 'prep', 'model', 'post', 'total'):
            assert a.timing[key] >= 0 and b.timing[key] >= 0
        assert b.timing['total'] >= b.timing['model'] > 0


def test_camera_and_stream_use_the_same_opencv_path(video, monkeypatch):
    files = [f.copy() for f in FrameSource(str(video))]
    stream = FrameSource(str(video), kind='stream')
    assert stream.is_live and len(stream) == 0
    assert all(np.array_equal(a, b) for a, b in zip(files, stream))
    # A camera index opens cv2.VideoCapture(index): point index 0 at the file.
    opened = []
    real = cv2.VideoCapture

    def fake_capture(source):
        opened.append(source)
        return real(str(video) if source == 0 else source)

    monkeypatch.setattr(frame_source_module.cv2, 'VideoCapture', fake_capture)
    camera = FrameSource(0, max_frames=4)
    assert camera.kind == 'camera' and len(camera) == 4
    got = list(camera)
    assert opened == [0] and len(got) == 4
    assert all(np.array_equal(a, b) for a, b in zip(files, got))


def test_unreadable_sources_are_named(tmp_path, monkeypatch):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video')
    with pytest.raises(VideoInputError, match=str(broken)):
        FrameSource(str(broken))
    with pytest.raises(FileNotFoundError, match='nowhere.mp4'):
        FrameSource(str(tmp_path / 'nowhere.mp4'))
    url = 'rtsp://127.0.0.1:9/no_stream'
    source = FrameSource(url)
    assert source.kind == 'stream'

    class Closed:
        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(frame_source_module.cv2, 'VideoCapture',
                        lambda s: Closed())
    with pytest.raises(VideoInputError, match='rtsp://127.0.0.1:9/no_stream'):
        list(source)
    with pytest.raises(VideoInputError, match='camera 7'):
        list(FrameSource(7))


def test_ema_matches_a_naive_loop():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 3, 4, 6))
    alpha = 0.7
    ref = [z[0]]
    for t in range(1, 5):
        ref.append(alpha * ref[-1] + (1 - alpha) * z[t])
    np.testing.assert_allclose(ema_smooth_logits(z, alpha), np.stack(ref),
                               rtol=1e-12)
    out = ema_smooth_logits(torch.from_numpy(z).float(), alpha)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), np.stack(ref), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(ema_smooth_logits(list(z), 0.), z)
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        EMASmoother(1.)
    smoother = EMASmoother(0.5)
    smoother(np.zeros((2, 3)))
    with pytest.raises(ValueError, match='reset'):
        smoother(np.zeros((2, 4)))


def test_smoothed_inferencer_equals_smoothing_its_logits(models, video):
    cfg, ckpt, _ = models
    raw = list(VideoInferencer(cfg, ckpt)(str(video), return_logits=True))
    smoothed = list(VideoInferencer(cfg, ckpt, smooth=0.6)(
        str(video), return_logits=True))
    ref = ema_smooth_logits([p.logits for p in raw], 0.6)
    for t, p in enumerate(smoothed):
        np.testing.assert_allclose(p.logits, ref[t], atol=1e-5)
        assert np.array_equal(p.label, ref[t].argmax(0))
    assert np.array_equal(smoothed[0].label, raw[0].label)


def test_motion_smoothing_warps_the_past_with_the_sources_flow(models, tmp_path):
    """A folder of frames: the source gets (path_t, path_t-1, RGB_t,
    RGB_t-1); the smoothed logits are ema_step of the raw ones with its
    flow; a real DIS source runs and is timed."""
    from mmseg_temporal.inference.smoothing import ema_step
    _, _, onnx_file = models
    folder = tmp_path / 'frames'
    folder.mkdir()
    for t, frame in enumerate(FrameSource(str(write_video(tmp_path / 'v.mp4')))):
        cv2.imwrite(str(folder / f'{t:03d}.png'), frame)
    files = sorted(str(p) for p in folder.iterdir())
    flow = np.zeros((2, 96, 128), np.float32)
    flow[0], flow[1] = -3., 1.
    valid = np.ones((96, 128), bool)
    valid[40:60] = False
    calls = []

    def source(path_a, path_b, img_a, img_b):
        calls.append((path_a, path_b, img_a, img_b))
        return flow, valid

    raw = list(VideoInferencer(onnx_file)(str(folder), return_logits=True))
    got = list(VideoInferencer(onnx_file, smooth=0.6, motion=source)(
        str(folder), return_logits=True))
    assert [c[:2] for c in calls] == list(zip(files[1:], files[:-1]))
    assert np.array_equal(calls[0][2], cv2.imread(files[1])[..., ::-1])
    assert np.array_equal(calls[0][3], cv2.imread(files[0])[..., ::-1])
    state = None
    for t, (r, p) in enumerate(zip(raw, got)):
        state = ema_step(state, torch.from_numpy(r.logits), 0.6,
                         None if t == 0 else flow, None if t == 0 else valid)
        np.testing.assert_allclose(p.logits, state.numpy(), atol=1e-5)
        np.testing.assert_allclose(p.logits[:, 40:60], r.logits[:, 40:60],
                                   atol=1e-6)  # invalid: the frame's own
    assert not np.allclose(got[2].logits, raw[2].logits, atol=1e-3)
    plain = list(VideoInferencer(onnx_file, smooth=0.6)(
        str(folder), max_frames=3, return_logits=True))
    dis = list(VideoInferencer(onnx_file, smooth=0.6, motion=dict(
        type='DISFlow', preset='ultrafast'))(str(folder), max_frames=3,
                                             return_logits=True))
    assert dis[2].label.shape == (96, 128) and dis[2].timing['flow'] > 0
    assert not np.allclose(dis[2].logits, plain[2].logits, atol=1e-3)


def test_endless_stream_is_not_buffered(models):
    _, _, onnx_file = models
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield np.full((96, 128, 3), i % 255, np.uint8)

    inferencer = VideoInferencer(onnx_file, smooth=0.5)
    stream = inferencer(endless(), prefetch_frames=0)
    for k, pred in enumerate(itertools.islice(stream, 20)):
        assert pred.index == k and len(pulled) == k + 1  # one frame in flight
        assert pred.logits is None  # not kept unless asked for
    assert inferencer.smoother.state.shape == (5, 96, 128)  # the only state
    # read ahead on a thread: at most the queue (2) and the one the reader
    # holds beyond the frame being segmented; closing stops the reader
    pulled.clear()
    stream = inferencer(endless(), prefetch_frames=2)
    for k, pred in enumerate(itertools.islice(stream, 20)):
        assert pred.index == k and k + 1 <= len(pulled) <= k + 1 + 3
    stream.close()
    done = len(pulled)
    time.sleep(0.3)
    assert len(pulled) == done


def test_truncated_checkpoint_is_one_clear_error(models, tmp_path):
    from mmseg_temporal.utils.checkpoint import CheckpointError
    cfg, ckpt, _ = models
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(open(ckpt, 'rb').read()[:2000])
    with pytest.raises(CheckpointError, match=str(bad)):
        VideoInferencer(cfg, str(bad))
