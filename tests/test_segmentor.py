"""TemporalDistillSegmentor: schemes a/e/j train, teacher frozen, errors,
export round trip to stock MMSeg."""
import copy
import json
import re
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mmseg_temporal  # noqa: F401
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / 'configs' / 'synthetic'
pytestmark = pytest.mark.slow

SCHEMES = {
    'a': 'pspnet_tiny_baseline_video_synthetic.py',
    'e': 'pspnet_tiny_tl_synthetic.py',
    'j': 'pspnet_tiny_etc_synthetic.py',
}
TERMS = {
    'a': ['loss_ce'],
    'e': ['loss_ce', 'loss_tl'],
    'j': ['loss_ce', 'loss_tl', 'loss_sf_pixel', 'loss_sf_pair', 'loss_pf',
          'loss_mf'],
}


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A teacher checkpoint (random weights) saved from the teacher config:
    a TemporalDistillSegmentor checkpoint, as training the teacher gives."""
    cfg = Config.fromfile(str(SYN / 'pspnet_small_teacher_tl_synthetic.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def scheme_cfg(scheme, data_root, work_dir, teacher_ckpt, iters=12):
    cfg = Config.fromfile(str(SYN / SCHEMES[scheme]))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_dataloader.dataset.num_videos = 2
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.num_videos = 1
    if cfg.model.get('teacher'):
        cfg.model.teacher.checkpoint = teacher_ckpt
        cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp('syn_seg'))


@pytest.mark.parametrize('scheme', ['a', 'e', 'j'])
def test_scheme_trains(scheme, data_root, teacher_ckpt, tmp_path):
    cfg = scheme_cfg(scheme, data_root, tmp_path / scheme, teacher_ckpt, iters=16)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    teacher_before = ({k: v.clone() for k, v in model.teacher.state_dict().items()}
                      if model.teacher is not None else None)
    runner.train()
    hub = runner.message_hub
    for term in TERMS[scheme]:
        values = hub.get_scalar(f'train/{term}').data[0]
        assert len(values) == 16, term
        assert np.isfinite(values).all(), term
    total = hub.get_scalar('train/loss').data[0]
    assert total[-4:].mean() < total[:4].mean(), total
    others = {'loss_tl', 'loss_sf_pixel', 'loss_sf_pair', 'loss_pf', 'loss_mf'}
    for term in others - set(TERMS[scheme]):
        assert f'train/{term}' not in hub.log_scalars
    if teacher_before is not None:
        assert all(p.grad is None for p in model.teacher.parameters())
        for k, v in model.teacher.state_dict().items():
            assert torch.equal(v, teacher_before[k]), k
        assert not model.teacher.training
        ckpt = torch.load(osp.join(cfg.work_dir, 'iter_16.pth'),
                          map_location='cpu', weights_only=False)
        assert not any(k.startswith('teacher.') for k in ckpt['state_dict'])
        assert any(k.startswith('losses.mf.conv_lstm') for k in ckpt['state_dict'])


def test_teacher_with_other_classes_is_refused(teacher_ckpt):
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
    cfg.model.teacher.checkpoint = teacher_ckpt
    cfg.model.student.decode_head.num_classes = 7
    with pytest.raises(ValueError, match='has 5 classes but the student has 7'):
        MODELS.build(cfg.model)


def test_teacher_checkpoint_mismatch_names_keys(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, map_location='cpu', weights_only=False)
    sd = state['state_dict']
    del sd['student.decode_head.conv_seg.weight']
    sd['student.decode_head.conv_seg.bias'] = torch.zeros(3)
    bad = tmp_path / 'bad.pth'
    torch.save(state, bad)
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
    cfg.model.teacher.checkpoint = str(bad)
    with pytest.raises(RuntimeError, match=r"missing keys \['decode_head.conv_seg."
                       r"weight'\].*decode_head.conv_seg.bias: checkpoint \(3,\)"):
        MODELS.build(cfg.model)


def test_losses_needing_teacher_without_one():
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher = None
    with pytest.raises(ValueError, match='need a teacher'):
        MODELS.build(cfg.model)


def test_nan_loss_is_reported(data_root, teacher_ckpt, tmp_path):
    cfg = scheme_cfg('e', data_root, tmp_path, teacher_ckpt)
    model = MODELS.build(cfg.model)
    from mmseg.registry import DATASETS
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    batch = [ds[0], ds[1]]
    data = model.data_preprocessor(
        dict(inputs=[b['inputs'] for b in batch],
             data_samples=[b['data_samples'] for b in batch]), True)
    with torch.no_grad():
        model.student.decode_head.conv_seg.weight.fill_(float('nan'))
    with pytest.raises(FloatingPointError, match='loss_'):
        model.loss(data['inputs'], data['data_samples'])


def test_all_losses_under_bfloat16_autocast(data_root, teacher_ckpt, tmp_path):
    """Mixed precision (what --amp turns on; MMEngine's AmpOptimWrapper
    needs a GPU, so CPU bfloat16 autocast stands in): student, teacher and
    ConvLSTM run in half precision, every loss term comes out float32 and
    finite, and the student gets finite gradients."""
    cfg = scheme_cfg('j', data_root, tmp_path, teacher_ckpt)
    model = MODELS.build(cfg.model)
    model.init_weights()
    from mmseg.registry import DATASETS
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    batch = [ds[0], ds[1]]
    data = model.data_preprocessor(
        dict(inputs=[b['inputs'] for b in batch],
             data_samples=[b['data_samples'] for b in batch]), True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(data['inputs'], data['data_samples'])
    for term in TERMS['j']:
        value = losses[term]
        assert value.dtype == torch.float32, term
        assert torch.isfinite(value).all(), term
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    total.backward()
    grads = [p.grad for p in model.student.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(p.grad is None for p in model.teacher.parameters())


EXPORT_CHECK = '''
import json, sys
import numpy as np
import mmseg.apis as api
assert 'mmseg_temporal' not in sys.modules
cfg, ckpt, img, out = sys.argv[1:5]
model = api.init_model(cfg, ckpt, device='cpu')
assert 'mmseg_temporal' not in sys.modules, 'the export needs the plugin'
res = api.inference_model(model, img)
np.save(out, res.seg_logits.data.numpy())
print(json.dumps(dict(params=sum(p.numel() for p in model.parameters()),
                      type=type(model).__name__)))
'''


def test_export_round_trip(data_root, teacher_ckpt, tmp_path):
    cfg = scheme_cfg('j', data_root, tmp_path / 'train', teacher_ckpt, iters=3)
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    ckpt = str(tmp_path / 'train' / 'iter_3.pth')
    cfg_file = tmp_path / 'etc.py'
    cfg.dump(str(cfg_file))
    out = tmp_path / 'export'
    res = subprocess.run([sys.executable, 'tools/export_student.py',
                          str(cfg_file), ckpt, str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    exported = Config.fromfile(str(out / 'student.py'))
    assert exported.model.type == 'EncoderDecoder'
    assert 'mmseg_temporal' not in (out / 'student.py').read_text()
    img = osp.join(data_root, 'val', 'video_000', '0007_img.png')
    res = subprocess.run([sys.executable, '-c', EXPORT_CHECK,
                          str(out / 'student.py'), str(out / 'student.pth'),
                          img, str(tmp_path / 'stock.npy')],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    # Same logits as the segmentor's own predict() through the same API.
    import mmseg.apis as api
    ours = api.init_model(str(cfg_file), ckpt, device='cpu')
    mine = api.inference_model(ours, img).seg_logits.data.numpy()
    stock = np.load(tmp_path / 'stock.npy')
    assert mine.shape == stock.shape
    np.testing.assert_allclose(stock, mine, rtol=1e-5, atol=1e-5)
    # Parameter count equals the baseline student's.
    base = MODELS.build(Config.fromfile(
        str(SYN / 'pspnet_tiny_baseline_synthetic.py')).model)
    assert info['params'] == sum(p.numel() for p in base.parameters())
    assert info['type'] == 'EncoderDecoder'

    # tools/test.py on the ETC checkpoint: mIoU and TC from one test loop.
    from conftest import data_cfg_options
    res = subprocess.run(
        [sys.executable, 'tools/test.py', str(cfg_file), ckpt, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options', *data_cfg_options(data_root),
         'test_dataloader.dataset.num_videos=1'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert re.search(r'mIoU: \d+\.\d+.*mTC: \d+\.\d+\s+mTC_seq: \d+\.\d+', log), log[-2000:]
