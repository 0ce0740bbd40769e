"""What tools/train.py and tools/test.py do besides running MMEngine's
Runner: their shared arguments, the run config, ``--amp``, the test
outputs, and distributed launch on machines without GPUs.

MMEngine 0.10.7's ``init_dist('pytorch')`` always calls
``torch.cuda.set_device`` and wraps the model in DDP with ``device_ids``,
both of which fail without CUDA. :func:`prepare_cpu_distributed` starts the
gloo process group itself (the Runner then skips its own ``init_dist``) and
asks for a DDP wrapper without device ids. On CUDA machines it does nothing.
"""
import os
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['prepare_cpu_distributed', 'finish_distributed', 'distributed_run',
           'add_run_args', 'load_run_config', 'enable_amp', 'set_test_outputs']


def prepare_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Adapts ``cfg`` (and the process) for DDP on the CPU when there is no
    GPU and a launcher is used."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    backend = cfg.env_cfg.dist_cfg.get('backend', 'nccl')
    if backend == 'nccl':
        backend = 'gloo'  # NCCL needs GPUs
    cfg.env_cfg.dist_cfg.backend = backend
    if launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(backend=backend,
                                rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
            **_no_buffer_sync_per_forward())


def _no_buffer_sync_per_forward() -> dict:
    """MMEngine's DDP default (no buffer broadcast at every forward) in the
    installed torch's terms: ``forward_sync_buffers=False`` where DDP has it
    (``broadcast_buffers`` is deprecated there), else
    ``broadcast_buffers=False``."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    if 'forward_sync_buffers' in params:
        return dict(forward_sync_buffers=False)
    return dict(broadcast_buffers=False)


def finish_distributed(barrier: bool = True) -> None:
    """Ends a distributed run cleanly: all ranks meet at a barrier (unless
    ``barrier=False``), then the process group is destroyed. No-op when no
    process group is initialised.

    Neither MMEngine nor torchrun destroys the process group. Left to the
    interpreter's exit, gloo's worker threads can still hold tensors while
    Python is torn down, and the process dies now and then with SIGABRT
    ("terminate called without an active exception"), failing a run whose
    work was all done.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


@contextmanager
def distributed_run() -> Iterator[None]:
    """Wraps a train or test run: the process group, if any, is destroyed
    however the run ends. On success after a barrier; when the run raises,
    at once (no barrier that other ranks might never reach), and the error
    propagates."""
    try:
        yield
    except BaseException:
        finish_distributed(barrier=False)
        raise
    finish_distributed()


def add_run_args(parser) -> None:
    """Arguments shared by tools/train.py and tools/test.py (as MMSeg's)."""
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value (xxx=yyy)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args) -> Config:
    """The config of a train/test run: ``--cfg-options`` merged, the work dir
    set (default ``./work_dirs/<config name>``), DDP prepared for the CPU
    when there is no GPU."""
    import os.path as osp
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    prepare_cpu_distributed(cfg, args.launcher)  # no-op with GPUs
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def enable_amp(cfg: Config) -> None:
    """``--amp`` of tools/train.py (as MMSeg's): an ``OptimWrapper`` becomes
    an ``AmpOptimWrapper`` with a dynamic loss scale."""
    from mmengine.logging import print_log
    wrapper = cfg.optim_wrapper.type
    if wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current', level=30)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(f'--amp only works with an OptimWrapper, got {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def set_test_outputs(cfg: Config, out=None, show_dir=None) -> None:
    """``--out`` and ``--show-dir`` of tools/test.py (as MMSeg's), and the
    default output folder of a ``TemporalConsistencyMetric`` (its per-pair
    TC curve and per-class table): ``WORK_DIR/temporal_consistency``.

    ``--out`` goes to the metrics that take an ``output_dir`` (with
    ``keep_results=True``, as MMSeg's tool sets it); others are left as
    they are.
    """
    import inspect
    import os.path as osp

    from mmseg.registry import METRICS
    if show_dir:
        cfg.default_hooks.visualization.update(draw=True, interval=1,
                                               show=False)
        cfg.visualizer['save_dir'] = show_dir
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev.get('type') == 'TemporalConsistencyMetric':
            ev.setdefault('output_dir',
                          osp.join(cfg.work_dir, 'temporal_consistency'))
            continue
        cls = METRICS.get(ev.get('type'))
        params = inspect.signature(cls).parameters if cls else {}
        if out is not None and 'output_dir' in params:
            ev['output_dir'] = out
            if 'keep_results' in params or any(
                    p.kind is p.VAR_KEYWORD for p in params.values()):
                ev['keep_results'] = True  # as MMSeg's tools/test.py
