"""Anti-aliased backbones (models/backbones/antialiased.py): the blur, the
replacements' shapes and parameters, plain checkpoints loading strictly, and
shift consistency where the plain backbone has none."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401  (registers the backbones)
from mmseg_temporal.models.backbones import (
    BlurSubsampledConv2d,
    BlurSubsampledMaxPool2d,
    antialias_downsampling,
    binomial_kernel,
    blur_subsample,
)

TINY = dict(type='ResNetV1c', depth=18, base_channels=16, stem_channels=16,
            num_stages=4, out_indices=(3,), dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1), contract_dilation=True)


def test_binomial_kernel_is_the_normalised_outer_product():
    expected = torch.tensor([1., 2., 1.])
    expected = expected[:, None] * expected[None, :] / 16
    assert torch.allclose(binomial_kernel(3)[0, 0], expected)
    assert binomial_kernel(5).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match='blur_size'):
        binomial_kernel(1)


def test_blur_subsample_matches_a_naive_loop():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 7, 9)
    out = blur_subsample(x, binomial_kernel(3), 2)
    padded = F.pad(x, (1, 1, 1, 1), mode='reflect')
    k = binomial_kernel(3)[0, 0]
    naive = torch.zeros(1, 2, 4, 5)
    for c in range(2):
        for i in range(4):
            for j in range(5):
                naive[0, c, i, j] = (padded[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * k).sum()
    assert torch.allclose(out, naive, atol=1e-6)


def test_a_constant_image_passes_unchanged():
    x = torch.full((1, 3, 8, 8), 2.5)
    assert torch.allclose(blur_subsample(x, binomial_kernel(3), 2), torch.full((1, 3, 4, 4), 2.5))


@pytest.mark.parametrize('size', [(17, 23), (16, 16)])
def test_replacements_keep_parameters_and_output_sizes(size):
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    pool = torch.nn.MaxPool2d(3, stride=2, padding=1)
    shortcut = torch.nn.Conv2d(3, 4, 1, stride=2, bias=False)
    x = torch.randn(1, 3, *size)
    for plain in (conv, pool, shortcut):
        model = torch.nn.Sequential(copy.deepcopy(plain))
        assert antialias_downsampling(model) == 1
        assert isinstance(model[0], (BlurSubsampledConv2d, BlurSubsampledMaxPool2d))
        assert model(x).shape == plain(x).shape
    blurred = BlurSubsampledConv2d.from_conv(conv, 3)
    assert blurred.weight is conv.weight and blurred.bias is conv.bias
    # stride 1 then blur then subsample == the dense conv blurred
    dense = F.conv2d(x, conv.weight, conv.bias, padding=1)
    assert torch.allclose(blurred(x), blur_subsample(dense, binomial_kernel(3), 2), atol=1e-6)


@pytest.mark.parametrize('conv_args, blur_size', [
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), 3),
    (dict(in_channels=3, out_channels=4, kernel_size=1, bias=False), 3),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding=2, dilation=2, groups=4), 3),
    (dict(in_channels=3, out_channels=4, kernel_size=7, padding=3), 3),  # ResNet's stem
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), 5),
])
def test_blur_first_equals_the_dense_form_away_from_the_border(conv_args, blur_size):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(stride=2, **conv_args)
    x = torch.randn(2, conv.in_channels, 27, 34)
    dense = BlurSubsampledConv2d.from_conv(conv, blur_size)
    first = BlurSubsampledConv2d.from_conv(conv, blur_size, blur_first=True)
    assert first.weight is conv.weight and first.blur_first
    out_dense, out_first = dense(x), first(x)
    assert out_first.shape == out_dense.shape == conv(x).shape
    # naive reference: blur every channel by hand, then the strided conv
    k, r = binomial_kernel(blur_size)[0, 0], blur_size // 2
    padded = F.pad(x, (r, r, r, r), mode='reflect')
    blurred = sum(k[a, b] * padded[..., a:a + 27, b:b + 34]
                  for a in range(blur_size) for b in range(blur_size))
    assert torch.allclose(out_first, conv(blurred), atol=1e-5)
    # the same linear map inside; only the border band the docstring names differs
    reach = conv.dilation[0] * (conv.kernel_size[0] // 2) + blur_size // 2
    margin = -(-reach // 2) if conv.kernel_size != (1, 1) else 0
    inner = (..., slice(margin, out_first.shape[-2] - margin),
             slice(margin, out_first.shape[-1] - margin))
    assert torch.allclose(out_first[inner], out_dense[inner], atol=1e-5)
    # a 1x1 conv commutes with the reflect padding too: equal everywhere
    pointwise = conv.kernel_size == (1, 1)
    assert torch.allclose(out_first, out_dense, atol=1e-5) == pointwise


def test_blur_first_backbone_loads_the_same_checkpoint():
    torch.manual_seed(0)
    plain = MODELS.build(TINY)
    dense = MODELS.build(dict(TINY, type='AntiAliasedResNetV1c'))
    first = MODELS.build(dict(TINY, type='AntiAliasedResNetV1c', blur_first=True))
    dense.load_state_dict(plain.state_dict(), strict=True)
    first.load_state_dict(plain.state_dict(), strict=True)
    convs = [m for m in first.modules() if isinstance(m, BlurSubsampledConv2d)]
    assert len(convs) == 3 and all(m.blur_first for m in convs)
    dense.eval(), first.eval()
    x = _smooth_image(1, size=(64, 96))
    with torch.no_grad():
        a, b = dense(x)[-1], first(x)[-1]
    # border effects travel inwards through the stack; the centre agrees closely
    core = (..., slice(2, -2), slice(2, -2))
    assert ((a[core] - b[core]).norm() / a[core].norm()).item() < 0.05
    with pytest.raises(ValueError, match='padding_mode'):
        BlurSubsampledConv2d(3, 4, 3, padding=1, padding_mode='reflect', blur_first=True)


def test_stride_one_layers_are_left_alone():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.MaxPool2d(3, 1, 1),
                                torch.nn.AvgPool2d(2, 2))
    assert antialias_downsampling(model) == 0
    assert type(model[0]) is torch.nn.Conv2d


@pytest.mark.parametrize('plain_cfg', [
    TINY,
    dict(type='MobileNetV2', widen_factor=0.25, strides=(1, 2, 2, 1, 1, 1, 1),
         dilations=(1, 1, 1, 2, 2, 4, 4), out_indices=(6,)),
])
def test_plain_checkpoint_loads_strictly_and_shapes_match(plain_cfg):
    torch.manual_seed(0)
    plain = MODELS.build(plain_cfg)
    aa = MODELS.build(dict(plain_cfg, type='AntiAliased' + plain_cfg['type']))
    plain.eval(), aa.eval()  # (MMSeg's ResNet.train returns None)
    assert set(aa.state_dict()) == set(plain.state_dict())
    aa.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 80)
    out_plain, out_aa = plain(x)[-1], aa(x)[-1]
    assert out_plain.shape == out_aa.shape
    assert not torch.allclose(out_plain, out_aa)  # the blur does change the features
    n_blurred = sum(isinstance(m, (BlurSubsampledConv2d, BlurSubsampledMaxPool2d))
                    for m in aa.modules())
    # ResNetV1c: stem conv, max-pool, the strided block's conv and its shortcut;
    # MobileNetV2: its stride-2 convolutions
    assert n_blurred == (4 if plain_cfg['type'] == 'ResNetV1c' else 3)


@pytest.mark.parametrize('plain_cfg', [
    TINY,
    dict(type='MobileNetV2', widen_factor=0.25, strides=(1, 2, 2, 1, 1, 1, 1),
         dilations=(1, 1, 1, 2, 2, 4, 4), out_indices=(6,)),
])
@pytest.mark.parametrize('blur_first', [False, True])
def test_same_seed_gives_the_plain_twin_its_initial_weights(plain_cfg, blur_first):
    """A study trains the anti-aliased arm from scratch with the plain arm's
    seed: building it must not draw extra random numbers, so the backbone,
    the head built after it and ``init_weights`` see the same random stream
    and every shared tensor starts equal."""
    channels = 128 if plain_cfg['type'] == 'ResNetV1c' else 80

    def segmentor(backbone: dict):
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='EncoderDecoder', backbone=backbone,
            decode_head=dict(type='PSPHead', in_channels=channels, channels=16,
                             num_classes=5, pool_scales=(1, 2), dropout_ratio=0.1)))
        model.init_weights()
        return model.state_dict(), torch.rand(3)

    plain, plain_next = segmentor(plain_cfg)
    aa, aa_next = segmentor(dict(plain_cfg, type='AntiAliased' + plain_cfg['type'],
                                 blur_size=5, blur_first=blur_first))
    assert set(aa) == set(plain)
    differing = [k for k in plain if not torch.equal(plain[k], aa[k])]
    assert not differing, f'initial weights differ: {differing[:5]}'
    assert torch.equal(plain_next, aa_next)  # the stream after the build, too


def _smooth_image(seed: int, size=(96, 128)) -> torch.Tensor:
    """A random image with texture at every scale above two pixels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, size[0] // 4, size[1] // 4, generator=g)
    x = F.interpolate(x, size=size, mode='bicubic', align_corners=False)
    return x + 0.5 * torch.randn(1, 3, *size, generator=g)


def _shift_inconsistency(model, shifts=(1, 2, 3, 5)) -> float:
    """Mean relative change of the stride-8 features, brought back to the
    input grid, when the input moves by a sub-cell shift (interior only)."""
    x = _smooth_image(0, size=(96, 160))
    errs = []
    with torch.no_grad():
        ref = F.interpolate(model(x)[-1], size=x.shape[-2:], mode='bilinear')
        for s in shifts:
            moved = F.interpolate(model(torch.roll(x, s, dims=3))[-1], size=x.shape[-2:],
                                  mode='bilinear')
            back = torch.roll(moved, -s, dims=3)[..., 24:-24, 24:-24]
            core = ref[..., 24:-24, 24:-24]
            errs.append(((back - core).norm() / core.norm()).item())
    return sum(errs) / len(errs)


def test_antialiased_backbone_is_more_shift_consistent():
    """Same weights, plain vs blurred downsampling: features of a sub-cell
    shifted input disagree less once the subsampling is low-passed."""
    torch.manual_seed(0)
    plain = MODELS.build(TINY)
    aa = MODELS.build(dict(TINY, type='AntiAliasedResNetV1c'))
    plain.eval(), aa.eval()
    aa.load_state_dict(plain.state_dict(), strict=True)
    plain_err, aa_err = _shift_inconsistency(plain), _shift_inconsistency(aa)
    assert aa_err < 0.75 * plain_err, (plain_err, aa_err)



EXPORT_RUN = '''
import json, sys
import numpy as np
from mmseg.apis import inference_model, init_model
model = init_model(sys.argv[1], sys.argv[2], device='cpu')
img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
pred = inference_model(model, img).pred_sem_seg.data
print(json.dumps(dict(backbone=type(model.backbone).__name__,
                      pred=pred.flatten().tolist())))
'''


def test_exported_antialiased_student_runs_in_stock_mmseg(tmp_path):
    """The exported config imports the plugin (custom_imports) only because
    the backbone needs it, and stock ``init_model`` rebuilds the same model."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.apis import inference_model

    from mmseg_temporal.deploy.export import export_student
    from mmseg_temporal.inference.model_files import init_student
    root = Path(__file__).resolve().parents[1]
    cfg = Config.fromfile(str(root / 'configs/synthetic/pspnet_tiny_baseline_synthetic.py'))
    student = cfg.model.student if 'student' in cfg.model else cfg.model
    student.backbone.type = 'AntiAliasedResNetV1c'
    cfg_file = tmp_path / 'aa.py'
    cfg.dump(str(cfg_file))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'aa.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg_path, ckpt_path = export_student(str(cfg_file), str(ckpt), str(tmp_path / 'out'))
    exported = Config.fromfile(cfg_path)
    assert exported.custom_imports == dict(imports=['mmseg_temporal'],
                                           allow_failed_imports=False)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    res = subprocess.run([sys.executable, '-c', EXPORT_RUN, cfg_path, ckpt_path],
                         cwd=tmp_path, env=dict(env, OMP_NUM_THREADS='1'),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out['backbone'] == 'AntiAliasedResNetV1c'
    img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    here = inference_model(init_student(cfg_path, ckpt_path), img).pred_sem_seg.data
    assert out['pred'] == here.flatten().tolist()


def test_plain_export_needs_no_plugin(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmseg_temporal.deploy.export import export_student
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    cfg_file = root / 'configs/synthetic/pspnet_tiny_baseline_synthetic.py'
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(Config.fromfile(str(cfg_file)).model)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'p.pth')
    cfg_path, _ = export_student(str(cfg_file), str(tmp_path / 'p.pth'), str(tmp_path / 'o'))
    assert 'custom_imports' not in Config.fromfile(cfg_path)


def test_the_separable_3x3_max_is_the_max_pool():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 11, 14, requires_grad=True)
    pool = BlurSubsampledMaxPool2d(3, padding=1)
    assert pool._separable
    dense = torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1)
    expected = blur_subsample(dense, binomial_kernel(3), 2)
    assert torch.equal(pool(x), expected)
    pool(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize('config, taps, blur_first', [
    ('camvid_cpu/pspnet_tiny_antialiased_baseline_camvid_cpu.py', 5, False),
    ('synthetic/pspnet_tiny_antialiased_baseline_video_synthetic.py', 3, False),
    ('camvid_cpu/pspnet_small_antialiased_baseline_camvid_cpu.py', 5, True)])
def test_antialiased_configs_build_the_studied_form(config, taps, blur_first):
    """The ready-made anti-aliased students are the forms the studies
    measured on their data: 5 taps on CamVid (``blur_first`` for the wide
    one), 3 on the synthetic video."""
    from pathlib import Path

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[1] / 'configs' / config))
    backbone = MODELS.build(cfg.model.student.backbone)
    convs = [m for m in backbone.modules() if isinstance(m, BlurSubsampledConv2d)]
    pools = [m for m in backbone.modules() if isinstance(m, BlurSubsampledMaxPool2d)]
    assert len(convs) == 3 and len(pools) == 1  # stem, strided block + shortcut; max-pool
    assert all(m.blur_kernel.shape[-1] == taps for m in convs + pools)
    assert all(c.blur_first is blur_first for c in convs)
