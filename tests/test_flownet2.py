"""FlowNet2: MMFlow's parameter layout, numerical fidelity, checkpoints.

The reference fixture (built with MMFlow 1.x, see its README) lives in
``/work/shared/data/flownet2_reference`` next to the repository.
"""
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from mmseg_temporal.flow.estimators.flownet2 import (
    FlowNet2,
    load_flownet2_state_dict,
    read_state_dict,
)
from mmseg_temporal.utils.checkpoint import CheckpointError

REF_DIR = (Path(__file__).resolve().parents[1].parent / 'shared' / 'data' /
           'flownet2_reference')


def _require(name):
    path = REF_DIR / name
    if not path.is_file():
        pytest.skip(f'FlowNet2 reference fixture absent: {path}')
    return path


def deterministic_state_dict(model):
    """The fixture's weights: randn seeded by crc32 of each key."""
    out = {}
    for key, value in model.state_dict().items():
        g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        w = torch.randn(value.shape, generator=g, dtype=torch.float32)
        if value.dim() >= 2:
            fan = value.shape[1] * math.prod(value.shape[2:])
            out[key] = w * math.sqrt(2.0 / fan)
        else:
            out[key] = w * 0.01
    return out


@pytest.fixture(scope='module')
def model():
    """One FlowNet2 (162M parameters) for the module, fixture weights."""
    net = FlowNet2()
    net.load_state_dict(deterministic_state_dict(net))
    return net


def test_parameter_listing_matches_mmflow(model):
    listing = json.loads(_require('state_dict_listing.json').read_text())
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    theirs = [(k, list(v)) for k, v in listing['state_dict'].items()]
    assert ours == theirs  # same keys, shapes and order
    assert len(ours) == 220
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == listing['num_parameters'] == 162_518_834


def test_matches_mmflow_golden_flow(model):
    img1 = np.load(_require('img1_rgb.npy'))
    img2 = np.load(_require('img2_rgb.npy'))
    golden = np.load(_require('flow_golden.npy'))

    def to_tensor(img):
        return torch.from_numpy(img).permute(2, 0, 1)[None].float()

    flow = model(to_tensor(img1), to_tensor(img2))
    assert flow.shape == (1, 2) + golden.shape[1:]
    assert flow.dtype == torch.float32
    err = np.abs(flow[0].numpy() - golden).max()
    assert err <= 1e-3 * np.abs(golden).max(), err


def test_frozen(model):
    model.train()
    assert not model.training
    assert not any(m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('input_mode', ['resize', 'pad'])
def test_any_input_size(model, input_mode):
    model.input_mode = input_mode
    try:
        g = torch.Generator().manual_seed(0)
        img1 = torch.rand(1, 3, 50, 70, generator=g) * 255
        flow = model(img1, img1.clone())
    finally:
        model.input_mode = 'resize'
    assert flow.shape == (1, 2, 50, 70)
    assert torch.isfinite(flow).all()


def test_checkpoint_round_trip(model, tmp_path):
    """An MMEngine-style checkpoint of a wrapped model loads strictly."""
    state = model.state_dict()
    ckpt = dict(
        meta=dict(epoch=1, mmflow_version='1.0.0rc0'),
        state_dict={f'module.{k}': v for k, v in state.items()})
    path = tmp_path / 'flownet2.pth'
    torch.save(ckpt, path)
    loaded = FlowNet2(checkpoint=str(path))
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert MODELS.get('FlowNet2') is FlowNet2

    # A parent whose init_cfg re-initialises every conv (MMEngine calls
    # init_weights before training) must not clobber the checkpoint.
    parent = BaseModule(init_cfg=dict(type='Constant', layer='Conv2d',
                                      val=0.))
    parent.flow = loaded
    parent.init_weights()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_mismatch_is_reported(model):
    state = dict(model.state_dict())
    bias_key = 'flownetSD.decoder.decoders.level2.pred_out.1.bias'
    before = state[bias_key].clone()

    missing = dict(state)
    del missing['flownet_fusion.encoder.layers.0.layers.0.conv.weight']
    with pytest.raises(CheckpointError) as err:
        load_flownet2_state_dict(model, missing)
    assert '1 of ' in str(err.value) and 'model keys missing' in str(err.value)
    assert 'flownet_fusion.encoder.layers.0.layers.0.conv.weight' in str(
        err.value)

    wrong = dict(state)
    wrong[bias_key] = torch.zeros(3)
    wrong['flownetSD.extra.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_flownet2_state_dict(model, wrong)
    message = str(err.value)
    assert f'1 shape mismatches (checkpoint vs model, e.g. [\'{bias_key} (3,) vs (2,)\'])' in (
        message)
    assert "1 unexpected keys (e.g. ['flownetSD.extra.weight'])" in message
    # nothing was loaded
    assert torch.equal(model.state_dict()[bias_key], before)


class _NotATensor:
    pass


def test_unsafe_checkpoint_is_refused(tmp_path):
    """weights_only loading: a pickle with arbitrary objects is refused."""
    path = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': {}, 'meta': _NotATensor()}, path)
    with pytest.raises(CheckpointError, match='FlowNet2 checkpoint .*unsafe.pth'):
        read_state_dict(str(path))
    with pytest.raises(CheckpointError, match='nothing.pth: no such file'):
        read_state_dict(str(tmp_path / 'nothing.pth'))
