"""TemporalDistillSegmentor: schemes a/e/j train, teacher frozen, errors,
export round trip to stock MMSeg."""
import copy
import json
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.utils.checkpoint import CheckpointError, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / 'configs' / 'synthetic'
pytestmark = pytest.mark.slow

SCHEMES = {
    'a': 'pspnet_tiny_baseline_video_synthetic.py',
    'e': 'pspnet_tiny_tl_synthetic.py',
    'j': 'pspnet_tiny_etc_synthetic.py',
}
TERMS = {  # MMSeg's keys for the student's own losses (decode., aux.)
    'a': ['decode.loss_ce'],
    'e': ['decode.loss_ce', 'loss_tl'],
    'j': ['decode.loss_ce', 'loss_tl', 'loss_sf_pixel', 'loss_sf_pair',
          'loss_pf', 'loss_mf'],
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
        ckpt = read_checkpoint(osp.join(cfg.work_dir, 'iter_16.pth'))
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
    state = read_checkpoint(teacher_ckpt)
    sd = state['state_dict']
    del sd['student.decode_head.conv_seg.weight']
    sd['student.decode_head.conv_seg.bias'] = torch.zeros(3)
    bad = tmp_path / 'bad.pth'
    torch.save(state, bad)
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
    cfg.model.teacher.checkpoint = str(bad)
    with pytest.raises(CheckpointError, match=r"teacher checkpoint .*bad.pth "
                       r"does not fit.*missing \(e.g. \['decode_head.conv_seg."
                       r"weight'\]\).*decode_head.conv_seg.bias \(3,\) vs \(5,\)"):
        MODELS.build(cfg.model)


def test_missing_teacher_checkpoint_names_the_teacher_and_its_config(
        tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the config names its teacher relative to it
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher.checkpoint = str(tmp_path / 'none.pth')
    with pytest.raises(CheckpointError) as err:
        MODELS.build(cfg.model)
    msg = str(err.value)
    assert 'teacher checkpoint' in msg and 'none.pth' in msg
    assert 'configs/synthetic/pspnet_small_teacher_tl_synthetic.py' in msg
    assert '\n' not in msg


def test_teacher_is_loaded_once_and_kept_by_init_weights(teacher_ckpt):
    cfg = Config.fromfile(str(SYN / SCHEMES['j']))
    cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
    cfg.model.teacher.checkpoint = teacher_ckpt
    model = MODELS.build(cfg.model)
    saved = read_checkpoint(teacher_ckpt)
    want = {k[8:]: v for k, v in saved['state_dict'].items()
            if k.startswith('student.')}
    model.init_weights()  # MMEngine's runner calls it after building
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, want[k]), k
    assert model.teacher.is_init and not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())


def test_etc_student_starts_where_its_single_term_control_starts(teacher_ckpt):
    """Paired arms from scratch: with one seed, the ETC config's student
    (teacher, SF, PF and MF built beside it) gets the same initial weights
    and leaves the random stream where the TL-only config's student does,
    so training-time draws (dropout) match too."""
    def build(scheme):
        cfg = Config.fromfile(str(SYN / SCHEMES[scheme]))
        if cfg.model.get('teacher'):
            cfg.model.teacher.config = str(ROOT / cfg.model.teacher.config)
            cfg.model.teacher.checkpoint = teacher_ckpt
        torch.manual_seed(3)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return model, torch.random.get_rng_state()

    (etc, etc_stream), (tl, tl_stream) = build('j'), build('e')
    assert sum(p.numel() for p in etc.losses.parameters()) > 0  # MF's ConvLSTM
    etc_state, tl_state = etc.student.state_dict(), tl.student.state_dict()
    assert etc_state.keys() == tl_state.keys()
    differ = [k for k in tl_state if not torch.equal(etc_state[k], tl_state[k])]
    assert differ == []
    assert torch.equal(etc_stream, tl_stream)


def test_each_loss_weight_is_its_terms_scale_and_loss_lambda_is_refused():
    """One scale: each loss's loss_weight, kept as configured. The removed
    loss_lambda (0.1.x) is refused by name, not silently ignored."""
    cfg = Config.fromfile(str(SYN / SCHEMES['e']))
    cfg.model.losses.tl.loss_weight = 2.0
    model = MODELS.build(cfg.model)
    assert model.losses['tl'].loss_weight == 2.0
    assert not model.losses['tl'].check_finite  # the segmentor checks once
    cfg.model.loss_lambda = 0.5
    with pytest.raises(TypeError, match='loss_lambda'):
        MODELS.build(cfg.model)


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


# ----------------------------------------------------------------------
# The parts: recorder, pre-dropout taps, term table, MMSeg's loss keys
# ----------------------------------------------------------------------
def _student_model(**student):
    cfg = Config.fromfile(str(SYN / SCHEMES['e']))
    cfg.model.student.decode_head.update(student)
    return MODELS.build(cfg.model)


def test_pre_dropout_features_do_not_depend_on_dropout():
    """Issue 12 item 5: in train mode, the recorded student feature is the
    same whether the head's dropout is active or replaced by identity (same
    input, same batch); the post-dropout tap is not."""
    from mmseg_temporal.models.segmentors.recorder import ModuleInputsRecorder, pre_dropout_feature
    model = _student_model().train()
    head = model.student.decode_head
    assert model.student_recorder.source == 'decode_head.dropout'
    assert head.dropout.training and head.dropout.p > 0
    no_dropout = copy.deepcopy(model)
    no_dropout.student.decode_head.dropout = torch.nn.Identity()
    clip = torch.randn(2, 3, 3, 48, 64, generator=torch.Generator().manual_seed(0))

    def features(net, source):
        recorder = ModuleInputsRecorder(net.student, source, 'student')
        torch.manual_seed(1)
        return net.forward_clip(net.student, recorder, clip)

    with_dropout = features(model, pre_dropout_feature(model.student))
    without = features(no_dropout, pre_dropout_feature(no_dropout.student))
    assert with_dropout.features.shape[:2] == (2, 3)
    assert torch.equal(with_dropout.features, without.features)
    assert not torch.equal(with_dropout.logits, without.logits)  # dropout ran
    post = [features(m, 'decode_head.conv_seg').features
            for m in (model, no_dropout)]
    assert not torch.equal(*post)


def test_head_without_dropout_taps_the_classifier_input():
    model = _student_model(dropout_ratio=0).train()
    assert model.student.decode_head.dropout is None
    assert model.student_recorder.source == 'decode_head.conv_seg'
    seen = []
    handle = model.student.decode_head.conv_seg.register_forward_pre_hook(
        lambda m, args: seen.append(args[0]))
    out = model.forward_clip(model.student, model.student_recorder,
                             torch.randn(1, 2, 3, 48, 64))
    handle.remove()
    assert torch.equal(out.features.flatten(0, 1), seen[0])


def test_recorder_is_scoped_to_its_with_block():
    model = _student_model().eval()  # one image: no batch statistics
    recorder = model.student_recorder
    module = model.student.decode_head.dropout
    with recorder:
        assert len(module._forward_pre_hooks) == 1
        with pytest.raises(RuntimeError, match='already recording'):
            recorder.__enter__()
        model.student.encode_decode(torch.randn(1, 3, 48, 64), [
            dict(img_shape=(48, 64), pad_shape=(48, 64))])
    assert len(module._forward_pre_hooks) == 0  # no hook outside the block
    assert recorder.pop().shape[0] == 1
    with pytest.raises(RuntimeError, match='not called'):
        recorder.pop()  # popped: the recorder keeps nothing alive
    model.student.encode_decode(torch.randn(1, 3, 48, 64), [
        dict(img_shape=(48, 64), pad_shape=(48, 64))])
    with pytest.raises(RuntimeError, match='not called'):
        recorder.pop()  # forwards outside the block are not recorded
    with pytest.raises(ValueError, match='not a module of the student'):
        type(recorder)(model.student, 'decode_head.nope', 'student')


def test_distill_terms_run_on_their_granularity():
    from mmseg_temporal.models.segmentors.distill_terms import (
        DISTILL_TERMS,
        ClipForward,
        DistillInputs,
        compute_distill_losses,
    )

    class Counting(torch.nn.Module):
        def __init__(self, name):
            super().__init__()
            self.loss_name, self.calls = name, 0

        def forward(self, *args, **kwargs):
            self.calls += 1
            return torch.tensor(float(self.calls))

    for num_frames, want in ((3, dict(frame=3, pair=2, clip=1)),
                             (1, dict(frame=1, pair=0, clip=0))):
        losses = torch.nn.ModuleDict(
            {k: Counting(f'loss_{k}') for k in DISTILL_TERMS})
        side = ClipForward([], torch.zeros(2, num_frames, 5, 4, 4),
                           torch.zeros(2, num_frames, 8, 4, 4))
        x = DistillInputs(side, side, torch.zeros(2, num_frames, 3, 8, 8),
                          torch.ones(2, 1, 8, 8, dtype=torch.bool),
                          torch.zeros(2, max(num_frames - 1, 1), 2, 8, 8),
                          torch.ones(2, max(num_frames - 1, 1), 1, 8, 8,
                                     dtype=torch.bool))
        out = compute_distill_losses(losses, x, num_frames)
        for key, term in DISTILL_TERMS.items():
            calls = want[term.granularity]
            assert losses[key].calls == calls, key
            if calls:  # the mean over the units: (1 + ... + n) / n
                assert float(out[f'loss_{key}']) == (calls + 1) / 2
            else:
                assert f'loss_{key}' not in out


def test_task_losses_use_mmseg_keys_with_an_auxiliary_head(data_root,
                                                           teacher_ckpt,
                                                           tmp_path):
    cfg = scheme_cfg('e', data_root, tmp_path, teacher_ckpt)
    cfg.model.student.auxiliary_head = dict(
        type='FCNHead', in_channels=64, in_index=2, channels=16,
        num_convs=1, concat_input=False, dropout_ratio=0.1, num_classes=5,
        align_corners=False, loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))
    model = MODELS.build(cfg.model)
    from mmseg.registry import DATASETS
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    batch = [ds[0], ds[1]]  # each ds[i] draws a new augmentation
    data = model.data_preprocessor(
        dict(inputs=[b['inputs'] for b in batch],
             data_samples=[b['data_samples'] for b in batch]), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce',
                           'aux.acc_seg', 'loss_tl'}
    # The clip's CE is the student's own on the labelled frames (eval mode:
    # no dropout, BN running statistics, so batching does not matter).
    assert data['inputs'].shape[1] == 3
    assert {s.metainfo['label_index'] for s in data['data_samples']} == {1}
    model.eval()
    lab = model._labelled_frames(data['inputs'], data['data_samples'])
    feats = model.student.extract_feat(lab)
    own = model.student._decode_head_forward_train(feats, data['data_samples'])
    own.update(model.student._auxiliary_head_forward_train(
        feats, data['data_samples']))
    ours = model.loss(data['inputs'], data['data_samples'])
    for key in ('decode.loss_ce', 'aux.loss_ce'):
        torch.testing.assert_close(ours[key], own[key])
    # single labelled frames (B, 3, H, W): the same CE
    single = model.loss(lab, data['data_samples'])
    torch.testing.assert_close(single['decode.loss_ce'], own['decode.loss_ce'])


def test_decode_head_runs_once_per_clip():
    """The task losses reuse the clip forward's logits: the student's decode
    head runs once on all B * T frames (one batch, one set of batch-norm
    statistics), not again on the labelled frames."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = _student_model().train()
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(label_index=1, img_shape=(48, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 48, 64), generator=g))
        s.flows = torch.zeros(2, 2, 48, 64)
        s.flow_valid = torch.ones(2, 1, 48, 64, dtype=torch.bool)
        samples.append(s)
    batches = []
    handle = model.student.decode_head.register_forward_pre_hook(
        lambda m, args: batches.append(args[0][0].shape[0]))
    losses = model.loss(torch.randn(2, 3, 3, 48, 64, generator=g), samples)
    handle.remove()
    assert batches == [6]
    assert torch.isfinite(losses['loss_tl']) and 'decode.loss_ce' in losses


@pytest.mark.parametrize('fb_check', [False, True, dict(alpha=0.02, beta=1.0)])
def test_online_flow_forward_backward_check(fb_check):
    """Issue 11 item 3: with online flow and ``flow_fb_check``, the flow's
    validity is the forward-backward check of the estimator's two
    directions (a scene shifted 4 px right: the pixels that leave the frame
    fail it); without it every pixel is valid."""
    from mmseg_temporal.flow.ops import forward_backward_valid
    cfg = Config.fromfile(str(SYN / SCHEMES['e']))
    cfg.model.flow = dict(type='DISFlow', preset='medium')
    cfg.model.flow_fb_check = fb_check
    model = MODELS.build(cfg.model)
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (1, 3, 48, 72)).astype(np.float32)
    texture = torch.from_numpy(texture).repeat_interleave(4, -1).repeat_interleave(4, -2)
    scene = torch.nn.functional.avg_pool2d(texture, 5, 1, 2)[..., :160, :240]
    frame_a, frame_b = scene[..., 8:104, 8:136], scene[..., 8:104, 4:132]
    images = torch.stack([frame_a, frame_b], dim=1)  # (B=1, T=2, 3, H, W)
    flows, valid = model._flows(images, [])
    assert flows.shape == (1, 1, 2, 96, 128) and valid.shape == (1, 1, 1, 96, 128)
    if not fb_check:
        assert valid.all()
        return
    params = fb_check if isinstance(fb_check, dict) else {}
    back = model.flow(frame_b, frame_a)
    expected = forward_backward_valid(flows[:, 0], back, **params)
    assert torch.equal(valid[:, 0], expected)
    assert not valid[..., -3:].any()        # moved out of frame: invalid
    assert valid[..., 16:-16, 16:-16].float().mean() > 0.9
