"""tools/dist_train.sh and dist_test.sh with 2 processes on the CPU (gloo)."""
import os
import re
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from conftest import data_cfg_options

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A checkpoint of the synthetic teacher config (random weights)."""
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmseg_temporal  # noqa: F401
    cfg = Config.fromfile(
        str(ROOT / 'configs/synthetic/pspnet_small_teacher_tl_synthetic.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def test_dist_train_and_test_two_processes(default_synthetic_root, teacher_ckpt,
                                           tmp_path):
    """The ETC config (teacher, all four losses, ConvLSTM clip hook) under
    DDP with 2 processes, then tested with 2 processes."""
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT='29517')
    cfg = 'configs/synthetic/pspnet_tiny_etc_synthetic.py'
    data_opts = [f'model.teacher.checkpoint={teacher_ckpt}',
                 *data_cfg_options(default_synthetic_root)]
    out = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
         'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
         *data_opts],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert '`broadcast_buffers` is deprecated' not in log  # torch's new name
    assert 'Iter(train) [3/3]' in log
    for term in ('loss_tl', 'loss_sf_pixel', 'loss_sf_pair', 'loss_pf',
                 'loss_mf'):
        assert term in log, term
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_3.pth']

    out = subprocess.run(
        ['bash', 'tools/dist_test.sh', cfg, str(work / 'iter_3.pth'), '2',
         '--work-dir', str(tmp_path / 'test'), '--cfg-options',
         *data_opts],
        cwd=ROOT, env=dict(env, PORT='29518'), capture_output=True, text=True,
        timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    # mIoU and temporal consistency from one test loop over 2 processes,
    # sequences gathered across ranks (2 videos x 20 frames -> 38 pairs).
    assert 'mIoU' in log and 'mTC' in log
    tc_line = re.search(r'TC over 38 frame pairs of 2 sequences: .*', log)
    assert tc_line, log[-4000:]

    # The 2 ranks shared the pairs' flows; the result is the one process's.
    out = subprocess.run(
        [sys.executable, 'tools/test.py', cfg, str(work / 'iter_3.pth'),
         '--work-dir', str(tmp_path / 'test1'), '--cfg-options',
         *data_opts],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log1 = out.stdout + out.stderr
    assert out.returncode == 0, log1[-4000:]
    assert tc_line.group(0) in log1

    # A metric failing on the ranks is raised by every rank: the run ends
    # with an error naming it instead of leaving a rank waiting. (An unknown
    # flow type is refused when the metric is built, before the test loop.)
    out = subprocess.run(
        ['bash', 'tools/dist_test.sh', cfg, str(work / 'iter_3.pth'), '2',
         '--work-dir', str(tmp_path / 'test_bad'), '--cfg-options',
         'test_evaluator.1.classes=[99]',
         *data_opts],
        cwd=ROOT, env=dict(env, PORT='29519'), capture_output=True,
        text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert 'TemporalConsistencyMetric failed: rank 0' in log, log[-4000:]
    assert 'classes holds ids outside' in log and '[99]' in log


def test_pair_share_covers_every_pair_once():
    from mmseg_temporal.evaluation.metrics.temporal_consistency_metric import pair_share
    for n in (0, 1, 5, 38, 101):
        for world in (1, 2, 3, 8):
            blocks = [list(range(n))[pair_share(n, r, world)]
                      for r in range(world)]
            assert [i for b in blocks for i in b] == list(range(n))
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_distributed_run_destroys_the_group(tmp_path):
    """The tools run inside distributed_run(): the process group is
    destroyed when the run ends (left to interpreter exit, gloo can abort
    the process), also when it raises; a no-op without a group."""
    import torch.distributed as dist

    from mmseg_temporal.utils.launch import distributed_run
    with distributed_run():  # nothing initialised: must not raise
        pass
    for n, fails in enumerate((False, True)):
        dist.init_process_group(
            'gloo', init_method=f'file://{tmp_path}/store{n}', rank=0,
            world_size=1)
        try:
            with pytest.raises(ValueError) if fails else nullcontext():
                with distributed_run():
                    assert dist.is_initialized()
                    if fails:
                        raise ValueError('run failed')
            assert not dist.is_initialized()
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()


def test_tools_run_inside_distributed_run():
    for tool in ('train.py', 'test.py'):
        src = (ROOT / 'tools' / tool).read_text()
        assert re.search(r'with exit_on_checkpoint_error\(\), distributed_run\(\):'
                         r'\n\s+(runner = )?CheckedLoadRunner\.from_cfg', src), tool
