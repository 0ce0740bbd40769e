"""mmseg_temporal.deploy.export_onnx and tools/export_onnx.py: each CPU student
of configs/ (random weights) exported to ONNX runs in onnxruntime with the
logits of PyTorch (1e-4) and the same argmax (>= 99.9 %); the parity check
fails loudly; metadata, dynamic shapes and the class-id output."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.deploy.onnx_export import OnnxParityError, export_onnx
from mmseg_temporal.inference.frame_models import OnnxFrameModel, PytorchFrameModel
from mmseg_temporal.inference.model_files import read_onnx_metadata
from mmseg_temporal.models.segmentors.student_config import student_model_config

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

ROOT = Path(__file__).resolve().parents[1]
# The tiny CPU students of configs/ (configs/_base_/models/pspnet_tiny*.py):
# a plain EncoderDecoder config and a TemporalDistillSegmentor one.
CPU_STUDENTS = {
    'synthetic': ROOT / 'configs/synthetic/pspnet_tiny_baseline_synthetic.py',
    'camvid_cpu': ROOT / 'configs/camvid_cpu/pspnet_tiny_etc_camvid_cpu.py',
}


def random_student(config: Path, tmp: Path, seed: int = 0) -> Path:
    """A checkpoint of the config's student with random weights."""
    torch.manual_seed(seed)
    model = MODELS.build(student_model_config(Config.fromfile(str(config))))
    model.init_weights()
    ckpt = tmp / f'{config.stem}_random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return ckpt


@pytest.fixture(scope='module', params=sorted(CPU_STUDENTS))
def exported(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f'onnx_{request.param}')
    config = CPU_STUDENTS[request.param]
    cfg_path, ckpt_path = export_student(
        str(config), str(random_student(config, tmp)), str(tmp / 'export'))
    onnx_file = tmp / 'student.onnx'
    report = export_onnx(cfg_path, ckpt_path, str(onnx_file))
    return cfg_path, ckpt_path, onnx_file, report


def test_each_cpu_student_matches_pytorch(exported):
    _, _, onnx_file, report = exported
    (row, ) = report['parity']
    assert row['max_abs_logit_diff'] <= 1e-4
    assert row['argmax_agreement'] >= 0.999
    assert onnx_file.stat().st_size > 10_000


def test_onnxruntime_frame_model_equals_pytorch_on_a_frame(exported):
    cfg_path, ckpt_path, onnx_file, _ = exported
    meta = read_onnx_metadata(str(onnx_file))
    h, w = meta['input_shape']
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    ref, _ = PytorchFrameModel(cfg_path, ckpt_path).logits(frame)
    got, timing = OnnxFrameModel(str(onnx_file)).logits(frame)
    assert got.shape == ref.shape == (meta['num_classes'], h, w)
    assert float((got - ref).abs().max()) <= 1e-4
    assert float((got.argmax(0) == ref.argmax(0)).float().mean()) >= 0.999
    assert timing['model_ms'] > 0


def test_metadata_holds_normalisation_and_size(exported):
    cfg_path, _, onnx_file, report = exported
    meta = read_onnx_metadata(str(onnx_file))
    pre = Config.fromfile(cfg_path).model.data_preprocessor
    assert meta['mean'] == pytest.approx(list(pre.mean))
    assert meta['std'] == pytest.approx(list(pre.std))
    assert meta['bgr_to_rgb'] is True
    assert meta['input_shape'] == report['input_shape']
    assert meta['dynamic'] is False and meta['output'] == 'logits'
    assert meta['exporter'] in ('torchscript', 'dynamo')
    # the sources by file name and content hash, no local path
    assert meta['source_config']['file'] == Path(cfg_path).name
    assert len(meta['source_checkpoint']['sha256']) == 64
    assert str(Path(cfg_path).parent) not in str(meta)


def test_dynamic_shapes_and_class_ids(tmp_path):
    import onnxruntime as ort
    config = CPU_STUDENTS['synthetic']
    ckpt = random_student(config, tmp_path, seed=3)
    out = tmp_path / 'dyn.onnx'
    report = export_onnx(str(config), str(ckpt), str(out), dynamic=True,
                         output='labels')
    assert [r['input_shape'] for r in report['parity']] == [[96, 128],
                                                           [80, 168]]
    sess = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    assert [o.name for o in sess.get_outputs()] == ['labels', 'logits']
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 72)).astype(
        np.float32)
    labels, logits = sess.run(None, {'input': x})
    assert labels.shape == (2, 64, 72) and logits.shape == (2, 5, 64, 72)
    assert np.array_equal(labels, logits.argmax(1))


def test_shape_generic_pooling_equals_adaptive_avg_pool():
    from torch import nn

    from mmseg_temporal.deploy.onnx_modules import (
        ShapeGenericAdaptiveAvgPool2d,
        shape_generic_copy,
    )
    for h, w in ((12, 16), (23, 31), (5, 7), (45, 60)):
        x = torch.randn(2, 4, h, w)
        for size in (1, 2, 3, 6, (2, 5)):
            ref = nn.AdaptiveAvgPool2d(size)(x)
            got = ShapeGenericAdaptiveAvgPool2d(size)(x)
            assert got.shape == ref.shape
            assert float((got - ref).abs().max()) < 1e-5, (h, w, size)
    net = nn.Sequential(nn.Conv2d(3, 3, 1), nn.AdaptiveAvgPool2d(3))
    copy = shape_generic_copy(net)
    assert isinstance(copy[1], ShapeGenericAdaptiveAvgPool2d)
    assert isinstance(net[1], nn.AdaptiveAvgPool2d)  # the model is untouched


def test_parity_failure_is_loud(tmp_path):
    config = CPU_STUDENTS['synthetic']
    ckpt = random_student(config, tmp_path)
    with pytest.raises(OnnxParityError, match='max abs logit diff'):
        export_onnx(str(config), str(ckpt), str(tmp_path / 'm.onnx'),
                    atol=-1.)  # nothing can pass a negative tolerance
    assert not (tmp_path / 'm.onnx').exists()  # never in place
    assert (tmp_path / 'm.failed.onnx').stat().st_size > 0  # kept aside


@pytest.mark.slow
def test_cli_prints_parity_and_names_a_bad_checkpoint(tmp_path):
    config = CPU_STUDENTS['synthetic']
    ckpt = random_student(config, tmp_path)
    res = subprocess.run(
        [sys.executable, 'tools/export_onnx.py', str(config), str(ckpt),
         str(tmp_path / 'cli.onnx'), '--shape', '64', '96'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'parity at 64x96: max abs logit diff' in res.stdout
    assert 'argmax agreement' in res.stdout
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(ckpt.read_bytes()[:1000])
    res = subprocess.run(
        [sys.executable, 'tools/export_onnx.py', str(config), str(bad),
         str(tmp_path / 'bad.onnx')],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert str(bad) in res.stderr and 'Traceback' not in res.stderr
