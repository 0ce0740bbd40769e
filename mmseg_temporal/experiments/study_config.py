"""One adjuster for the configs the main job and the studies run: a
repository config set to a run's folder, seed, length, data and logging,
the one home of decisions that were written three times (quickstart,
the synthetic paired study, the CamVid study)."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

__all__ = ['study_config']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _set_loaders(cfg: Config, data_root: Optional[str],
                 workers: Optional[int]) -> None:
    """Every loader reads ``data_root``; with ``workers`` set, training uses
    that many and the others load in the main process."""
    for key in _LOADERS:
        if key not in cfg:
            continue
        if data_root is not None:
            cfg[key].dataset.data_root = data_root
        if workers is not None:
            cfg[key].num_workers = workers if key == 'train_dataloader' else 0
            cfg[key].persistent_workers = cfg[key].num_workers > 0


def study_config(config: str, work_dir: str, seed: int, iters: int, *,
                 data_root: Optional[str] = None,
                 val_every: Optional[int] = None,
                 ckpt_every: Optional[int] = None, keep_ckpts: int = 2,
                 log_every: Optional[int] = None,
                 workers: Optional[int] = None,
                 run_name: Optional[str] = None,
                 repo_root: Optional[str] = None,
                 quiet: bool = False,
                 precision: str = 'fp32') -> Config:
    """``config`` (a file) set for one run.

    Args:
        work_dir, seed, iters: the run's folder, ``randomness.seed`` and
            ``max_iters`` (the first scheduler ends there too).
        data_root: every loader's data root (unchanged when None).
        val_every: validation interval (default: ``iters``).
        ckpt_every, keep_ckpts: checkpoint interval (default: ``iters``)
            and how many are kept.
        log_every: the logger's interval (unchanged when None).
        workers: training loader workers (the others then load in the main
            process); the config's own when None.
        run_name: the visualizer's name. MMSeg's default visualizer is one
            named instance per process: every run gets its own (default:
            the folder's name) or all write into the first run's folder.
        repo_root: a teacher config named relative to the repository is
            made absolute against it.
        quiet: the console shows progress bars, MMEngine's log goes to the
            run's log file only.
        precision: ``'bf16'`` trains under bfloat16 autocast on the CPU
            (``CPUAutocastOptimWrapper``, the optimiser kept; refused on a CPU
            without bf16 hardware); ``'fp32'`` keeps the config's wrapper.
            A 300-iteration CamVid fine-tune lands inside fp32's seed spread
            (docs/benchmarks.md, bf16_finetune_study).
    """
    if precision not in ('fp32', 'bf16'):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = val_every or iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.update(interval=ckpt_every or iters,
                                        max_keep_ckpts=keep_ckpts)
    if log_every is not None:
        cfg.default_hooks.logger.interval = log_every
    cfg.visualizer.name = f'visualizer_{run_name or osp.basename(work_dir)}'
    _set_loaders(cfg, data_root, workers)
    teacher = cfg.model.get('teacher')
    if teacher and repo_root and not osp.isabs(teacher.config):
        teacher.config = osp.join(repo_root, teacher.config)
    if precision == 'bf16':
        from ..utils.cpu_info import check_native_bf16
        check_native_bf16(f'bf16 training of {osp.basename(config)}')
        cfg.optim_wrapper.update(type='CPUAutocastOptimWrapper', dtype='bfloat16')
    if quiet:
        cfg.console_log_level = 'ERROR'
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='ProgressBarHook', desc=osp.basename(work_dir))]
    return cfg
