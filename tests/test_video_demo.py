"""tools/video_demo.py and mmseg_temporal.demo.run_video_demo: per-frame
inference of exported models (PyTorch or onnxruntime) over a frame folder or
a video file, overlay video readable at a glance (enlarged, named panels,
legend, frame index, a codec that reads back), TC curve and latency; clear
errors for bad inputs."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.demo.video_demo import DemoCanvas, run_video_demo
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.inference.frame_source import FrameSource, VideoInputError
from mmseg_temporal.visualization import open_video_writer

ROOT = Path(__file__).resolve().parents[1]
SYN_CFG = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_baseline_synthetic.py'
CLASSES = ['sky', 'road', 'car', 'tree', 'person']
PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142], [107, 142, 35],
           [220, 20, 60]]
NUM_FRAMES = 8
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _export(tmp: Path, seed: int):
    """An exported tiny PSPNet with random weights (no training)."""
    cfg = Config.fromfile(str(SYN_CFG))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = tmp / f'random_{seed}.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES,
                                                palette=PALETTE))), ckpt)
    return export_student(str(SYN_CFG), str(ckpt), str(tmp / f'export_{seed}'))


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    """Two exported models (different random weights): 'baseline', 'ETC'."""
    tmp = tmp_path_factory.mktemp('video_demo_models')
    return [_export(tmp, 0), _export(tmp, 1)]


@pytest.fixture(scope='module')
def seq05_frames(camvid_root, tmp_path_factory) -> Path:
    """The first NUM_FRAMES frames of CamVid Seq05VD, copied into a folder."""
    src = camvid_root / 'test'
    files = sorted(src.glob('Seq05VD_f*.png'))[:NUM_FRAMES]
    if len(files) < NUM_FRAMES:
        pytest.skip(f'CamVid Seq05VD frames not found in {src} (expected '
                    '../shared/data/camvid beside the repository)')
    dst = tmp_path_factory.mktemp('seq05vd')
    for f in files:
        shutil.copy(f, dst / f.name)
    return dst


def _read_video(path: Path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


@pytest.mark.slow
def test_cli_two_models_on_frame_folder(exports, seq05_frames, tmp_path):
    out = tmp_path / 'out'
    (c0, k0), (c1, k1) = exports
    res = subprocess.run(
        [sys.executable, 'tools/video_demo.py', str(seq05_frames),
         '--models', c0, k0, c1, k1, '--names', 'baseline', 'ETC',
         '--out-dir', str(out), '--device', 'cpu', '--no-progress'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'baseline' in res.stdout and 'ETC' in res.stdout
    assert 'p99' in res.stdout

    h, w = cv2.imread(str(next(seq05_frames.iterdir()))).shape[:2]
    frames = _read_video(out / 'overlay.mp4')
    assert len(frames) == NUM_FRAMES
    # two panels (720 rows: not enlarged) with a 4 px gap, legend below
    assert frames[0].shape[1] == 2 * w + 4 and frames[0].shape[0] > h

    png = (out / 'tc_curve.png').read_bytes()
    assert png[:8] == PNG_MAGIC
    img = cv2.imread(str(out / 'tc_curve.png'))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100

    summary = json.loads((out / 'latency.json').read_text())
    assert set(summary['models']) == {'baseline', 'ETC'}
    assert summary['num_frames'] == NUM_FRAMES
    for name, m in summary['models'].items():
        lat = m['latency']
        assert lat['frames'] == NUM_FRAMES
        for key in ('mean_ms', 'median_ms', 'p99_ms'):
            assert math.isfinite(lat[key]) and lat[key] > 0, (name, key)
        assert 0 <= m['mTC'] <= 100
        assert len(m['tc_curve']) == NUM_FRAMES - 1
        assert all(v is None or 0 <= v <= 100 for v in m['tc_curve'])


def test_video_file_input(exports, tmp_path):
    # A short mp4 of a moving square; one model, library call.
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'),
                             5., (128, 96))
    assert writer.isOpened()
    for t in range(5):
        img = np.full((96, 128, 3), 90, np.uint8)
        cv2.rectangle(img, (10 + 6 * t, 20), (50 + 6 * t, 60), (0, 200, 255),
                      -1)
        writer.write(img)
    writer.release()
    out = tmp_path / 'out'
    summary = run_video_demo(str(video), [exports[0]], str(out),
                             max_frames=4, progress=False,
                             flow=dict(type='DISFlow', preset='fast'))
    assert summary['num_frames'] == 4
    (name, m), = summary['models'].items()
    assert name == 'export_0'  # the export folder, not 'student'
    assert m['latency']['frames'] == 4
    assert len(m['tc_curve']) == 3
    frames = _read_video(out / 'overlay.mp4')
    # 96 rows enlarged 4x to reach 360, legend strip below
    assert len(frames) == 4 and frames[0].shape[1] == 4 * 128
    assert frames[0].shape[0] > 4 * 96
    assert (out / 'tc_curve.png').read_bytes()[:8] == PNG_MAGIC


def test_missing_checkpoint_is_named(exports, tmp_path):
    frames = tmp_path / 'frames'
    frames.mkdir()
    cv2.imwrite(str(frames / '0000.png'), np.zeros((32, 32, 3), np.uint8))
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        run_video_demo(str(frames), [(exports[0][0], str(missing))],
                       str(tmp_path / 'out'), progress=False)
    missing_cfg = tmp_path / 'nope.py'
    with pytest.raises(FileNotFoundError, match='nope.py'):
        run_video_demo(str(frames), [(str(missing_cfg), exports[0][1])],
                       str(tmp_path / 'out'), progress=False)


@pytest.mark.slow
def test_cli_errors_name_the_path(exports, tmp_path):
    empty = tmp_path / 'empty_folder'
    empty.mkdir()
    (empty / 'notes.txt').write_text('not a frame')
    res = subprocess.run(
        [sys.executable, 'tools/video_demo.py', str(empty), '--models',
         *exports[0], '--out-dir', str(tmp_path / 'out')],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert str(empty) in res.stderr and 'no frames' in res.stderr
    assert 'Traceback' not in res.stderr
    # an --out-dir holding other files is refused (the demo replaces the
    # whole folder), in one line, and left alone
    res = subprocess.run(
        [sys.executable, 'tools/video_demo.py', str(empty), '--models',
         *exports[0], '--out-dir', str(empty)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and 'Traceback' not in res.stderr
    assert 'notes.txt' in res.stderr and 'did not write' in res.stderr
    assert (empty / 'notes.txt').read_text() == 'not a frame'


def test_bad_inputs_are_named(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(VideoInputError, match=str(empty)):
        FrameSource(str(empty))
    missing = tmp_path / 'missing.mp4'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        FrameSource(str(missing))
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video at all')
    with pytest.raises(VideoInputError, match=str(broken)):
        FrameSource(str(broken))
    # Frames of different sizes in a folder: the odd file is named.
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    cv2.imwrite(str(mixed / 'a.png'), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(mixed / 'b.jpg'), np.zeros((16, 32, 3), np.uint8))
    with pytest.raises(VideoInputError, match='b.jpg'):
        list(FrameSource(str(mixed)))


def test_frame_folder_order_and_limit(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f'{i:04d}.png'),
                    np.full((8, 8, 3), 10 * i, np.uint8))
    (tmp_path / 'skip.txt').write_text('x')
    src = FrameSource(str(tmp_path), max_frames=2)
    assert len(src) == 2
    assert [int(f[0, 0, 0]) for f in src] == [0, 10]


def _synthetic_video(path: Path, num_frames: int = 5) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5.,
                             (128, 96))
    for t in range(num_frames):
        img = np.full((96, 128, 3), 90, np.uint8)
        cv2.rectangle(img, (10 + 6 * t, 20), (50 + 6 * t, 60), (0, 200, 255),
                      -1)
        writer.write(img)
    writer.release()
    return path


@pytest.mark.slow
def test_cli_onnxruntime_backend_writes_video_and_curve(exports, tmp_path):
    pytest.importorskip('onnxruntime')
    onnx_file = tmp_path / 'etc_student.onnx'
    export_onnx(*exports[1], str(onnx_file))
    video = _synthetic_video(tmp_path / 'clip.mp4')
    out = tmp_path / 'out'
    res = subprocess.run(
        [sys.executable, 'tools/video_demo.py', str(video), '--backend',
         'onnxruntime', '--models', str(onnx_file), '--smooth', '0.5',
         '--out-dir', str(out), '--no-progress',
         '--flow', '{"type": "DISFlow", "preset": "ultrafast"}'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'etc_student' in res.stdout and 'video codec:' in res.stdout
    frames = _read_video(out / 'overlay.mp4')
    assert len(frames) == 5 and frames[0].shape[1] == 512
    assert (out / 'tc_curve.png').read_bytes()[:8] == PNG_MAGIC
    summary = json.loads((out / 'latency.json').read_text())
    assert summary['backend'] == 'onnxruntime' and summary['smooth'] == 0.5
    m = summary['models']['etc_student']
    assert m['latency']['frames'] == 5 and len(m['tc_curve']) == 4
    assert summary['end_to_end_fps'] > 0


class _FakeInferencer:
    name, num_classes, class_names = 'ETC', 2, ['sky', 'road']
    palette = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)


def test_canvas_enlarges_names_indexes_and_has_a_legend():
    canvas = DemoCanvas([_FakeInferencer()], alpha=1.0, min_height=300,
                        total=20)
    frame = np.zeros((96, 128, 3), np.uint8)
    label = np.zeros((96, 128), np.int64)
    label[48:] = 1
    img = canvas(frame, [label], 7)
    assert img.shape[1] == 4 * 128 and img.shape[0] > 4 * 96  # ceil(300/96)
    assert img.shape[0] % 2 == 0 and img.shape[1] % 2 == 0
    panel, legend = img[:384], img[384:]
    assert tuple(panel[150, 250]) == (0, 0, 255)  # sky, enlarged (BGR)
    assert tuple(panel[300, 250]) == (255, 0, 0)  # road
    assert (legend == (0, 0, 255)).all(-1).sum() > 20  # legend swatches
    assert (legend == (255, 0, 0)).all(-1).sum() > 20
    other = canvas(frame, [label], 8)
    assert not np.array_equal(img[:30, -80:], other[:30, -80:])  # index
    assert np.array_equal(img[100:], other[100:])


def test_video_writer_codec_reads_back(tmp_path):
    path = tmp_path / 'v.mp4'
    writer, codec = open_video_writer(str(path), 5., (64, 48))
    for v in (0, 100, 200):
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    assert codec in ('libx264', 'avc1', 'vp09', 'mp4v')
    assert len(_read_video(path)) == 3
    with pytest.raises(RuntimeError, match='zzzz'):
        open_video_writer(str(tmp_path / 'x.mp4'), 5., (64, 48),
                          codecs=('zzzz', ))


def test_pair_tc_flow_is_a_flow_source_and_needs_an_estimator():
    """The demo's TC gets its flow through build_flow_source: an estimator
    config runs on the frames; a file-keyed source is refused when built
    (the demo's frames have no files), not at the first pair."""
    from mmseg_temporal.demo.video_demo import PairConsistency
    tc = PairConsistency(['m'], [3], dict(type='DISFlow', preset='ultrafast'))
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (48, 64, 3), np.uint8), (5, 5), 0)
    label = np.zeros((48, 64), np.int64)
    label[10:30, 10:30] = 1
    tc.update(img, [label])
    tc.update(np.roll(img, 2, axis=1), [np.roll(label, 2, axis=1)])
    # the flow follows the 2 px move (100 measured; a zero flow scores 89)
    assert len(tc.pairs['m']) == 1 and tc.results()['m']['mTC'] > 97
    with pytest.raises(ValueError, match="'SyntheticExactFlow' is a file-keyed"):
        PairConsistency(['m'], [3], dict(type='SyntheticExactFlow'))
