"""Distributed launch on machines without GPUs (DDP over gloo on the CPU).

MMEngine 0.10.7's ``init_dist('pytorch')`` always calls
``torch.cuda.set_device`` and wraps the model in DDP with ``device_ids``,
both of which fail without CUDA. :func:`prepare_cpu_distributed` starts the
gloo process group itself (the Runner then skips its own ``init_dist``) and
asks for a DDP wrapper without device ids. On CUDA machines it does nothing.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['prepare_cpu_distributed']


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
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
