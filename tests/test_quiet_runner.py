"""A quiet main job: ``console_log_level`` keeps MMEngine's INFO lines off
the console (the run's log file keeps them) and ``ProgressBarHook`` shows
one bar per training and test run."""
import glob
import os.path as osp

import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import mmseg_temporal  # noqa: F401  (registers ProgressBarHook)
from mmseg_temporal.utils.runner import CheckedLoadRunner


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class _Points(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return dict(inputs=torch.full((2,), float(i)))


def _runner(tmp_path, **cfg):
    # its own experiment name: MMEngine's logger is one instance per name
    # (a timestamp by default), and its console handler holds the stdout of
    # the test that made it
    loader = dict(dataset=_Points(), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return CheckedLoadRunner(
        model=_Toy(), work_dir=str(tmp_path), train_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=100)),
        default_scope='mmseg', experiment_name=f'quiet_{tmp_path.name}',
        cfg=dict(cfg, model=dict()), **{
            k: v for k, v in cfg.items() if k == 'custom_hooks'})


def test_console_level_keeps_info_in_the_log_file_only(tmp_path, capsys):
    _runner(tmp_path, console_log_level='ERROR',
            custom_hooks=[dict(type='ProgressBarHook', desc='toy')]).train()
    out, err = capsys.readouterr()
    assert '(train)' not in out and 'System environment' not in out
    log = glob.glob(osp.join(str(tmp_path), '*', '*.log'))[0]
    with open(log) as f:
        assert '(train) [1][3/3]' in f.read()
    assert 'toy train' in err and '3/3' in err


def test_without_console_level_the_console_shows_mmengine(tmp_path, capsys):
    _runner(tmp_path).train()
    out, _ = capsys.readouterr()
    assert '(train) [1][3/3]' in out
