"""Bad data is named, never silently used (issue 20, item 4), and every tool
ends a user error with one ``error: ...`` line (item 5).

Each fault is built inside the test (tmp_path) and its message is checked to
name the file or the key at fault."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, METRICS, MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.flow.sources.flow_cache import FlowCache, FlowCacheError
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.cli import error_line, run_tool
from mmseg_temporal.utils.errors import ConfigError, DataError
from mmseg_temporal.utils.labels import check_label_ids

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(type='DISFlow', preset='ultrafast')


def write_png(path, arr):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def make_camvid(root, n=7, step=30, classes=11, split='train'):
    """A CamVid-like split: one sequence of ``n`` labelled frames ``step``
    video frames apart, 24x32."""
    rng = np.random.default_rng(0)
    for k in range(n):
        name = f'seqA_{step * k:06d}.png'
        write_png(f'{root}/{split}/{name}',
                  rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        write_png(f'{root}/{split}annot/{name}',
                  rng.integers(0, classes, (24, 32), dtype=np.uint8))


def camvid(root, **kw):
    cfg = dict(type='CamVidVideoDataset', data_root=str(root),
               data_prefix=dict(img_path='train', seg_map_path='trainannot'),
               edge_policy='skip', offsets_before=(1, 1),
               offsets_after=(1, 1), pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


# ----------------------------------------------------------------------
# Missing frames
# ----------------------------------------------------------------------
@pytest.mark.parametrize('remove_label', [False, True])
def test_camvid_missing_middle_frame_is_named(tmp_path, remove_label):
    """The labelled frame 60 is gone (its image, or image and label): no
    triplet silently pairs frames 30 and 90 (2 s apart) in its place."""
    make_camvid(tmp_path)
    os.remove(tmp_path / 'train' / 'seqA_000060.png')
    if remove_label:
        os.remove(tmp_path / 'trainannot' / 'seqA_000060.png')
    with pytest.raises(FileNotFoundError, match=r'train/seqA_000060\.png') as e:
        camvid(tmp_path)
    assert "on_missing_frame='skip'" in str(e.value)
    ds = camvid(tmp_path, on_missing_frame='skip')
    assert ds.num_missing_frames == 1
    triplets = [ds.draw_frames(ds.get_data_info(i))['frame_ids']
                for i in range(len(ds))]
    # 30 and 90 lose a neighbour; 0 and 180 are edges (skipped)
    assert triplets == [[90, 120, 150], [120, 150, 180]]
    assert all('seqA_000060' not in a + b for a, b in ds.flow_pairs())
    seq = camvid(tmp_path, on_missing_frame='skip', sample_mode='sequence')
    frames = [seq.get_data_info(i) for i in range(len(seq))]
    assert [f['frame_index'] for f in frames] == [0, 1, 3, 4, 5, 6]
    lab = camvid(tmp_path, on_missing_frame='skip', sample_mode='labelled')
    assert len(lab) == 6


def test_camvid_listed_frame_missing_is_named(tmp_path):
    make_camvid(tmp_path, n=3)
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'train/seqA_{30 * k:06d}.png trainannot/'
                           f'seqA_{30 * k:06d}.png\n' for k in range(4)))
    with pytest.raises(FileNotFoundError, match=r'seqA_000090\.png'):
        camvid(tmp_path, ann_file=str(ann))


def test_on_missing_frame_value_checked(tmp_path):
    make_camvid(tmp_path, n=3)
    with pytest.raises(ValueError, match="on_missing_frame.*'ignore'"):
        camvid(tmp_path, on_missing_frame='ignore')


def make_cityscapes(root, n=19, hw=(16, 32)):
    rng = np.random.default_rng(0)
    for fid in range(n - 3, n + 4):
        write_png(f'{root}/leftImg8bit_sequence/train/aachen/aachen_000001_'
                  f'{fid:06d}_leftImg8bit.png',
                  rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
    write_png(f'{root}/gtFine/train/aachen/aachen_000001_{n:06d}'
              '_gtFine_labelTrainIds.png', rng.integers(0, 19, hw, dtype=np.uint8))


def test_cityscapes_skip_never_draws_a_missing_neighbour(tmp_path):
    make_cityscapes(tmp_path)
    gone = (tmp_path / 'leftImg8bit_sequence' / 'train' / 'aachen' /
            'aachen_000001_000017_leftImg8bit.png')
    os.remove(gone)
    kw = dict(type='CityscapesVideoDataset', data_root=str(tmp_path),
              snippet_before=3, snippet_after=3, offsets_before=(1, 3),
              offsets_after=(1, 3), pipeline=[])
    with pytest.raises(FileNotFoundError, match=str(gone)):
        DATASETS.build(kw)
    ds = DATASETS.build(dict(kw, on_missing_frame='skip'))
    assert ds.get_data_info(0)['candidates_before'] == [1, 3]
    for _ in range(30):
        assert 17 not in ds.draw_frames(ds.get_data_info(0))['frame_ids']
    seq = DATASETS.build(dict(kw, on_missing_frame='skip', sample_mode='sequence'))
    assert [seq.get_data_info(i)['frame_id'] for i in range(len(seq))] == \
        [16, 18, 19, 20, 21, 22]


# ----------------------------------------------------------------------
# Labels: ids outside the classes, unreadable files
# ----------------------------------------------------------------------
STOCK = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
         dict(type='PackSegInputs')]
VIDEO = [dict(type='LoadVideoFrames'), dict(type='LoadVideoAnnotations'),
         dict(type='PackVideoSegInputs')]


@pytest.mark.parametrize('mode,pipeline', [('labelled', STOCK),
                                           ('triplet', VIDEO)])
def test_label_id_outside_classes_names_the_file(tmp_path, mode, pipeline):
    """CamVid has 11 classes (void 11 -> 255): a 20 is named with its file,
    in stock and video pipelines, instead of an IndexError in the loss."""
    make_camvid(tmp_path, n=4)
    bad = tmp_path / 'trainannot' / 'seqA_000030.png'
    lab = cv2.imread(str(bad), cv2.IMREAD_UNCHANGED)
    lab[0, 0], lab[0, 1] = 11, 20
    write_png(bad, lab)
    ds = camvid(tmp_path, sample_mode=mode, pipeline=pipeline)
    idx = [i for i in range(len(ds))
           if ds.get_data_info(i)['seg_map_path'] == str(bad)][0]
    with pytest.raises(DataError, match=rf'label {bad} holds class ids \[20\] '
                       r'outside \[0, 11\)'):
        ds[idx]
    ok = [i for i in range(len(ds)) if i != idx][0]
    assert ds[ok]['data_samples'].gt_sem_seg.data.max() <= 255


@pytest.mark.parametrize('pipeline', [STOCK, VIDEO])
def test_truncated_label_png_names_the_file(tmp_path, pipeline):
    make_camvid(tmp_path, n=3)
    bad = tmp_path / 'trainannot' / 'seqA_000030.png'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])
    mode = 'labelled' if pipeline is STOCK else 'triplet'
    ds = camvid(tmp_path, sample_mode=mode, pipeline=pipeline,
                check_label_size=False)
    idx = [i for i in range(len(ds))
           if ds.get_data_info(i)['seg_map_path'] == str(bad)][0]
    with pytest.raises(DataError, match=str(bad)):
        ds[idx]


def test_check_label_ids():
    lab = np.array([[0, 10, 255], [3, 4, 5]], np.uint8)
    check_label_ids(lab, 11, 255, 'x.png')  # ignore index allowed
    check_label_ids(torch.from_numpy(lab[:, :2].astype(np.int64)), 11, 255, 'x')
    with pytest.raises(DataError, match=r'label y.png holds class ids \[11\]'):
        check_label_ids(np.array([[11, 255]]), 11, 255, 'y.png')
    with pytest.raises(DataError, match=r'\[-1\]'):
        check_label_ids(np.array([[-1, 2]]), 11, 255, 'z.png')


def _sample(label, path='lab/a.png'):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    s = SegDataSample(metainfo=dict(img_path='img/a.png', seg_map_path=path,
                                    seq_name='s', frame_index=0))
    s.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None])
    s.pred_sem_seg = PixelData(data=torch.zeros_like(torch.as_tensor(label))[None])
    return s.to_dict()


@pytest.mark.parametrize('metric', [
    dict(type='SparseIoUMetric'),
    dict(type='TemporalConsistencyMetric', flow=FAST, show_progress=False)])
def test_metrics_name_the_label_file_not_pred(metric):
    """A label id outside the classes in testing: the metric names the
    label file (IoUMetric alone reports a wrong IoU; TC blamed pred_t)."""
    m = METRICS.build(metric)
    m.dataset_meta = dict(classes=('a', 'b', 'c'))
    m.process({}, [_sample(np.array([[0, 2], [1, 255]]))])
    with pytest.raises(DataError, match=r'label lab/b.png holds class ids \[7\]'):
        m.process({}, [_sample(np.array([[0, 7], [1, 2]]), 'lab/b.png')])


# ----------------------------------------------------------------------
# Flow cache: stale entries, one estimator, unwritable folder
# ----------------------------------------------------------------------
def frames(tmp_path, n=2):
    rng = np.random.default_rng(1)
    paths = []
    for k in range(n):
        p = tmp_path / 'd' / f'{k}.png'
        write_png(p, rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
        paths.append(str(p))
    return paths


def test_replaced_frame_makes_its_entry_stale(tmp_path):
    a, b = frames(tmp_path)
    cache = FlowCache(str(tmp_path / 'c'), str(tmp_path))
    cache.write(a, b, np.ones((2, 12, 16), np.float32))
    old = cache.path(a, b)
    assert cache.problem(a, b) is None
    write_png(b, np.zeros((12, 16, 3), np.uint8))  # replaced frame
    os.utime(b, ns=(1, 1))  # even within the file system's time resolution
    assert cache.problem(a, b) == 'stale'
    with pytest.raises(FlowCacheError, match=f'{a} -> {b} is stale') as e:
        cache.read(a, b)
    assert e.value.kind == 'stale'
    source = PrecomputedFlow(str(tmp_path / 'c'), str(tmp_path),
                             on_missing='compute', estimator=FAST)
    assert source.check([(a, b)])['stale'] == [(a, b)]
    assert source.fill([(a, b)], progress=False) == 1
    assert cache.problem(a, b) is None and not os.path.exists(old)


def test_one_cache_one_estimator(tmp_path):
    a, b = frames(tmp_path)
    out = str(tmp_path / 'c')
    PrecomputedFlow(out, on_missing='compute', estimator=FAST)
    assert FlowCache(out).read_meta()['estimator'] == FAST
    # the same estimator spelled with its defaults is the same estimator
    PrecomputedFlow(out, on_missing='compute',
                    estimator=dict(type='DISFlow', preset='ultrafast'))
    medium = dict(type='DISFlow')
    with pytest.raises(FlowCacheError, match=r'holds the flows of estimator '
                       r'.*ultrafast.*, not .*DISFlow.*one estimator'):
        PrecomputedFlow(out, on_missing='compute', estimator=medium)
    with pytest.raises(FlowCacheError, match='one estimator'):
        PrecomputedFlow(out, on_missing='error', estimator=medium)


def test_unwritable_cache_refused_before_work(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    out = str(blocker / 'cache')
    with pytest.raises(FlowCacheError, match=f'flow cache folder {out} is not '
                       'writable'):
        PrecomputedFlow(out, on_missing='compute', estimator=FAST)
    # the TC metric refuses at construction, not after the test loop
    with pytest.raises(FlowCacheError, match='not writable'):
        METRICS.build(dict(type='TemporalConsistencyMetric', flow=dict(
            type='PrecomputedFlow', cache_dir=out, on_missing='compute',
            estimator=FAST)))
    with pytest.raises(KeyError, match='NoSuchFlow'):
        METRICS.build(dict(type='TemporalConsistencyMetric',
                           flow=dict(type='NoSuchFlow')))


# ----------------------------------------------------------------------
# Fixed-shape ONNX model and frames of another aspect ratio
# ----------------------------------------------------------------------
def test_fixed_shape_onnx_refuses_another_aspect_ratio(tmp_path):
    """A fixed 96x128 ONNX student (the synthetic test pipeline resizes
    keeping the ratio): a 96x384 frame is refused, naming both shapes,
    instead of being stretched to 96x128; a 192x256 frame (same aspect) is
    resized and runs."""
    pytest.importorskip('onnxruntime')
    from mmengine.config import Config

    from mmseg_temporal.deploy.export import export_student
    from mmseg_temporal.deploy.onnx_export import export_onnx
    from mmseg_temporal.inference.frame_models import OnnxFrameModel
    from mmseg_temporal.models.segmentors.student_config import student_model_config
    config = ROOT / 'configs/synthetic/pspnet_tiny_baseline_synthetic.py'
    torch.manual_seed(0)
    model = MODELS.build(student_model_config(Config.fromfile(str(config))))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'random.pth')
    cfg, ckpt = export_student(str(config), str(tmp_path / 'random.pth'),
                               str(tmp_path / 'student'))
    onnx_file = str(tmp_path / 'student.onnx')
    export_onnx(cfg, ckpt, onnx_file)
    onnx = OnnxFrameModel(onnx_file)
    assert onnx.fixed_shape == (96, 128)
    logits, _ = onnx.logits(np.zeros((192, 256, 3), np.uint8))
    assert tuple(logits.shape[1:]) == (192, 256)
    with pytest.raises(DataError, match=r'student.onnx: .*fixed 96x128 .*'
                       r'96x384 frame is 32x128 .*stretch'):
        onnx.logits(np.zeros((96, 384, 3), np.uint8))


# ----------------------------------------------------------------------
# Impossible config values, refused at build with the key named
# ----------------------------------------------------------------------
STUDENT = dict(
    type='EncoderDecoder',
    backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(3, ),
                  dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  base_channels=8, stem_channels=8),
    decode_head=dict(type='FCNHead', in_channels=64, in_index=0, channels=8,
                     num_convs=1, num_classes=3, dropout_ratio=0,
                     norm_cfg=dict(type='BN'), align_corners=False),
    test_cfg=dict(mode='whole'))


def segmentor(**kw):
    return MODELS.build(dict(type='TemporalDistillSegmentor', student=STUDENT,
                             data_preprocessor=dict(
                                 type='VideoSegDataPreProcessor'), **kw))


@pytest.mark.parametrize('losses,key', [
    (dict(tl=dict(type='TemporalLoss', loss_weight=-0.1)),
     r'model\.losses\.tl\.loss_weight must be a finite number >= 0, got -0\.1'),
    (dict(tl=dict(type='TemporalLoss', loss_weight=float('nan'))),
     r'model\.losses\.tl\.loss_weight'),
    (dict(tll=dict(type='TemporalLoss')), r"model\.losses: unknown keys \['tll'\]"),
    (dict(tl=0.1), r'model\.losses\.tl must be a loss config'),
    (dict(sf_pixel=dict(type='PixelwiseKDLoss')), r'model\.teacher: .*sf_pixel'),
])
def test_impossible_loss_config_names_the_key(losses, key):
    with pytest.raises(ConfigError, match=key):
        segmentor(losses=losses)


def test_other_impossible_values_name_the_key():
    from mmseg_temporal.models.losses import TemporalLoss
    with pytest.raises(ConfigError, match=r'TemporalLoss\.loss_weight .* -1'):
        TemporalLoss(loss_weight=-1)
    with pytest.raises(ConfigError, match=r'model\.flow_fb_check\.alpha'):
        segmentor(flow_fb_check=dict(alpha=-0.01))
    with pytest.raises(ConfigError, match=r"unknown keys \['gamma'\]"):
        segmentor(flow_fb_check=dict(gamma=1))


def test_tl_without_flow_names_both_keys():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = segmentor(losses=dict(tl=dict(type='TemporalLoss')))
    s = SegDataSample(metainfo=dict(label_index=1, img_shape=(32, 32)))
    s.gt_sem_seg = PixelData(data=torch.zeros((1, 32, 32), dtype=torch.long))
    with pytest.raises(ConfigError, match=r'model\.losses\.tl needs flow.*'
                       r'model\.flow is None'):
        model.loss(torch.rand(1, 3, 3, 32, 32), [s])


# ----------------------------------------------------------------------
# One line for user errors: the wrapper and the tools
# ----------------------------------------------------------------------
def test_run_tool_one_line_exit_1(monkeypatch, capsys):
    monkeypatch.delenv('MMSEG_TEMPORAL_DEBUG', raising=False)
    monkeypatch.setattr(sys, 'argv', ['tool.py', 'cfg.py'])

    def bad():
        raise DataError('label a.png holds class ids [20]\nsecond line')
    with pytest.raises(SystemExit) as e:
        run_tool(bad)
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(
        'error: label a.png holds class ids [20] second line')
    assert run_tool(lambda: 7) == 7


def test_run_tool_debug_shows_the_traceback(monkeypatch):
    monkeypatch.delenv('MMSEG_TEMPORAL_DEBUG', raising=False)
    argv = ['tool.py', 'cfg.py', '--debug']
    monkeypatch.setattr(sys, 'argv', argv)

    def bad():
        assert sys.argv == ['tool.py', 'cfg.py']  # removed before parsing
        raise ConfigError('model.losses.tl.loss_weight must be >= 0')
    with pytest.raises(ConfigError):
        run_tool(bad)
    monkeypatch.setattr(sys, 'argv', ['tool.py', 'cfg.py'])
    monkeypatch.setenv('MMSEG_TEMPORAL_DEBUG', '1')
    with pytest.raises(ConfigError):
        run_tool(bad)


def test_run_tool_leaves_bugs_their_traceback(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['tool.py'])

    def bug():
        raise ZeroDivisionError('a bug')
    with pytest.raises(ZeroDivisionError):
        run_tool(bug)


def test_error_line_of_a_dataloader_worker_and_a_key_error():
    worker = ValueError(
        'Caught DataError in DataLoader worker process 0.\nOriginal Traceback '
        '(most recent call last):\n  File "x.py", line 1, in f\n    g()\n'
        'mmseg_temporal.utils.errors.DataError: label a.png holds class ids [20]\n')
    assert error_line(worker) == 'error: label a.png holds class ids [20]'
    assert error_line(KeyError('no key "x" in cfg')) == 'error: no key "x" in cfg'


def run_cli(tool, *args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('MMSEG_TEMPORAL_DEBUG', None)
    return subprocess.run([sys.executable, str(ROOT / 'tools' / tool), *args],
                          capture_output=True, text=True, timeout=600,
                          cwd=str(ROOT), env=env)


def test_precompute_flow_missing_frame_is_one_line(tmp_path):
    """A data error in tools/precompute_flow.py: exit 1, one `error:` line
    naming the file; --debug shows the traceback."""
    make_camvid(tmp_path / 'data', n=5)
    os.remove(tmp_path / 'data' / 'train' / 'seqA_000060.png')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        'train_dataloader = dict(dataset=dict(type="CamVidVideoDataset", '
        f'data_root={str(tmp_path / "data")!r}, edge_policy="skip", '
        'offsets_before=(1, 1), offsets_after=(1, 1), pipeline=[]))\n')
    out = tmp_path / 'cache'
    res = run_cli('precompute_flow.py', str(cfg), '--out', str(out),
                  '--estimator', json.dumps(FAST), '--device', 'cpu')
    assert res.returncode == 1, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr[-2000:]
    assert 'train/seqA_000060.png' in lines[0]
    assert 'Traceback' in run_cli('precompute_flow.py', str(cfg), '--out',
                                  str(out), '--debug').stderr
    # an unwritable cache folder: one line, before the dataset is read
    blocker = tmp_path / 'file'
    blocker.write_text('')
    res = run_cli('precompute_flow.py', str(cfg), '--out', str(blocker / 'c'))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        res.stderr.strip()] and 'not writable' in res.stderr


def test_train_negative_loss_weight_is_one_line(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text('default_scope = "mmseg"\n'
                   f'model = dict(type="TemporalDistillSegmentor", '
                   f'student={STUDENT!r}, losses=dict(tl=dict('
                   'type="TemporalLoss", loss_weight=-0.1)))\n'
                   f'work_dir = {str(tmp_path / "work")!r}\n')
    res = run_cli('train.py', str(cfg))
    assert res.returncode == 1, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and \
        'model.losses.tl.loss_weight must be a finite number >= 0' in last
