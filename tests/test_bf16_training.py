"""bf16 training on the CPU as a config switch (CPUAutocastOptimWrapper,
configs/_base_/schedules/bf16_cpu.py) and the losses under autocast."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import mmseg_temporal  # noqa: F401
from mmseg_temporal.engine.optimizers import CPUAutocastOptimWrapper
from mmseg_temporal.models.losses import (
    CrossFrameSimilarityLoss,
    IntraFrameSimilarityLoss,
    MultiFrameLoss,
    PixelwiseKDLoss,
    TemporalLoss,
)
from mmseg_temporal.utils import cpu_info

ROOT = Path(__file__).resolve().parents[1]
TL_CONFIG = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_tl_synthetic.py'
BF16_FRAGMENT = ROOT / 'configs' / '_base_' / 'schedules' / 'bf16_cpu.py'

needs_bf16 = pytest.mark.skipif(
    not cpu_info.native_bf16(),
    reason=f'this CPU ({cpu_info.cpu_model()}) has no bfloat16 hardware: the '
           'switch refuses there (test_switch_refuses_without_bf16)')


def _switched_config(tmp_path) -> Config:
    """The tiny student + TL synthetic config with the documented switch."""
    path = tmp_path / 'tl_bf16.py'
    path.write_text(f"_base_ = ['{TL_CONFIG}', '{BF16_FRAGMENT}']\n"
                    'optim_wrapper = {{_base_.bf16_cpu_optim_wrapper}}\n')
    cfg = Config.fromfile(str(path))
    root = str(tmp_path / 'video')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.update(data_root=root, num_videos=2)
        cfg[key].update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=3, val_interval=1000)
    cfg.default_hooks.checkpoint.update(interval=1000, save_last=False)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'bf16_{tmp_path.name}'
    cfg.visualizer.name = f'visualizer_bf16_{tmp_path.name}'
    return cfg


def test_switch_keeps_the_optimizer(tmp_path):
    cfg = _switched_config(tmp_path)
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9,
                                               weight_decay=0.0005)


@needs_bf16
def test_tiny_student_trains_in_bf16_on_the_cpu(tmp_path):
    runner = Runner.from_cfg(_switched_config(tmp_path))
    conv_dtypes = set()

    def record(module, args, output):
        if module.training:
            conv_dtypes.add(output.dtype)
    hooks = [m.register_forward_hook(record) for m in runner.model.modules()
             if isinstance(m, torch.nn.Conv2d)]
    runner.train()
    for h in hooks:
        h.remove()
    assert isinstance(runner.optim_wrapper, CPUAutocastOptimWrapper)
    assert conv_dtypes == {torch.bfloat16}  # every training conv ran in bf16
    assert all(p.dtype == torch.float32 for p in runner.model.parameters())
    scalars = runner.message_hub.log_scalars
    assert runner.iter == 3
    for key in ('train/loss', 'train/decode.loss_ce', 'train/loss_tl'):
        values = scalars[key].data[0]
        assert len(values) == 3 and all(math.isfinite(v) for v in values), key


def test_switch_refuses_without_bf16(monkeypatch):
    monkeypatch.setenv(cpu_info.FLAGS_ENV, 'avx2 fma')  # an AVX2-only CPU
    model = torch.nn.Conv2d(3, 4, 3)
    cfg = dict(type='CPUAutocastOptimWrapper',
               optimizer=dict(type='SGD', lr=0.01))
    with pytest.raises(cpu_info.CPUFeatureError,
                       match=r'^CPUAutocastOptimWrapper \(bf16 training on the '
                             r'CPU\): refused, this CPU .* avx512_bf16'):
        build_optim_wrapper(model, cfg)
    # asked explicitly, it runs (emulated)
    wrapper = build_optim_wrapper(model, dict(cfg, check_cpu=False))
    with wrapper.optim_context(model):
        assert model(torch.randn(1, 3, 8, 8)).dtype == torch.bfloat16


def test_float16_is_refused():
    model = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="dtype must be 'bfloat16'"):
        CPUAutocastOptimWrapper(dtype='float16', check_cpu=False,
                                optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def _cast(x, dtype):
    return [t.to(dtype) for t in x] if isinstance(x, list) else x.to(dtype)


def _loss_cases():
    """name -> (loss, arguments, how many leading arguments are network
    activations: bf16 under autocast; flows and images stay float32)."""
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    flow, img_t, img_tk = r(2, 2, 12, 16) * 2, r(2, 3, 12, 16) * 50, r(2, 3, 12, 16) * 50
    cases = {f'tl_{c}': (TemporalLoss(compare=c),
                         [r(2, 5, 6, 8), r(2, 5, 6, 8), flow, img_t, img_tk], 2)
             for c in TemporalLoss.COMPARE}
    cases.update(
        sf_pixel=(PixelwiseKDLoss(), [r(2, 5, 6, 8), r(2, 5, 6, 8)], 2),
        sf_pair=(IntraFrameSimilarityLoss(), [r(2, 8, 8, 8), r(2, 16, 8, 8)], 2),
        pf=(CrossFrameSimilarityLoss(), [r(2, 5, 6, 8) for _ in range(4)], 4),
        mf=(MultiFrameLoss(pool_size=2), [[r(2, 8, 8, 8) for _ in range(3)],
                                          [r(2, 16, 8, 8) for _ in range(3)]], 2))
    return cases


@pytest.mark.parametrize('name', list(_loss_cases()))
def test_losses_compute_in_float32_under_bf16_autocast(name):
    """bf16 activations under autocast give the float32 loss of the same
    (bf16-rounded) values, as a float32 scalar, with gradients."""
    loss, args, acts = _loss_cases()[name]
    low = [_cast(a, torch.bfloat16) if i < acts else a for i, a in enumerate(args)]
    student = low[0] if isinstance(low[0], list) else [low[0]]
    for t in student:
        t.requires_grad_(True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(*low)
    exact = loss(*[_cast(a, torch.float32) for a in low])
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert float(value.detach()) == pytest.approx(float(exact.detach()), rel=1e-5, abs=1e-7)
    value.backward()
    assert all(t.grad is not None and torch.isfinite(t.grad.float()).all()
               for t in student)
