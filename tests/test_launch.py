"""What tools/train.py and tools/test.py set on the config before the
Runner (mmseg_temporal.utils.launch)."""
import pytest
from mmengine.config import Config

import mmseg_temporal  # noqa: F401
from mmseg_temporal.utils.launch import enable_amp, set_test_outputs


def test_enable_amp():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer={})))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    enable_amp(cfg)  # already on: unchanged
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='only works with an OptimWrapper'):
        enable_amp(Config(dict(optim_wrapper=dict(type='Other'))))


def _test_cfg():
    return Config(dict(
        work_dir='work', visualizer=dict(type='SegLocalVisualizer'),
        default_hooks=dict(visualization=dict(type='SegVisualizationHook')),
        test_evaluator=[dict(type='IoUMetric'),
                        dict(type='TemporalConsistencyMetric'),
                        dict(type='VideoConsistencyMetric')]))


def test_set_test_outputs():
    cfg = _test_cfg()
    set_test_outputs(cfg)
    iou, tc, vc = cfg.test_evaluator
    assert tc.output_dir == 'work/temporal_consistency'
    assert 'output_dir' not in iou and 'output_dir' not in vc
    assert 'draw' not in cfg.default_hooks.visualization

    cfg = _test_cfg()
    set_test_outputs(cfg, out='preds', show_dir='drawn')
    iou, tc, vc = cfg.test_evaluator
    assert (iou.output_dir, iou.keep_results) == ('preds', True)
    assert tc.output_dir == 'work/temporal_consistency'
    assert 'output_dir' not in vc  # it takes no output_dir
    vis = cfg.default_hooks.visualization
    assert (vis.draw, vis.interval, vis.show) == (True, 1, False)
    assert cfg.visualizer.save_dir == 'drawn'
