"""A ``CheckpointHook`` whose rotation never deletes the last good
checkpoint, and which removes the leftovers of a run killed while saving."""
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...utils.atomic import remove_stale_tmp

__all__ = ['FiniteCheckpointHook', 'losses_finite']


def losses_finite(outputs) -> bool:
    """Whether every loss entry (a key containing ``loss``) of a train
    step's ``outputs`` is finite (no entry: nothing to judge, ``True``)."""
    if not isinstance(outputs, dict):
        return True
    return all(bool(torch.isfinite(torch.as_tensor(v, dtype=torch.float64)).all())
               for k, v in outputs.items() if 'loss' in k)


@HOOKS.register_module()
class FiniteCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` whose rotation (``max_keep_ckpts``)
    never deletes the last good checkpoint.

    A checkpoint is *good* when all its weights are finite, the loss logged
    at its iteration was finite, and so were the losses of the
    ``confirm_iters`` iterations trained from it (at most ``interval`` of
    them: every checkpoint is judged before the next one is saved). A
    diverging run can save finite but exploded weights whose next loss is
    NaN; such a checkpoint never pushes out the last good one: that one is
    kept beside the ``max_keep_ckpts`` newest (one extra file) until a newer
    checkpoint is good. The checkpoint saved at the end of a run that
    finished counts as good when its weights and loss are finite.
    :attr:`last_good_checkpoint` names the good one (and the message hub
    keeps it as ``good_ckpt_step``, so a resumed run goes on knowing it).

    At the start of training it also removes the ``.NAME.tmp-XXXXXXXX``
    files that the project's atomic writer leaves when a run is killed
    while saving (:func:`mmseg_temporal.utils.atomic.remove_stale_tmp`;
    nothing else), from the checkpoint folder and the work_dir.

    Args:
        confirm_iters: finite training losses a checkpoint needs after it
            to count as good (default 10).
        **kwargs: ``CheckpointHook``'s (``interval``, ``max_keep_ckpts``,
            ``by_epoch``, ...).
    """

    def __init__(self, *args, confirm_iters: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if int(confirm_iters) < 1:
            raise ValueError('FiniteCheckpointHook: confirm_iters must be '
                             f'>= 1, got {confirm_iters}')
        self.confirm_iters = int(confirm_iters)
        self.good_step: Optional[int] = None
        self._spared: List[int] = []  # good steps the rotation passed over
        self._pending: List[List[int]] = []  # [step, finite losses since]
        self._loss_finite = True

    @property
    def last_good_checkpoint(self) -> Optional[str]:
        """Path of the newest good checkpoint (``None``: none yet)."""
        if self.good_step is None:
            return None
        return self.file_backend.join_path(
            self.out_dir, self.filename_tmpl.format(self.good_step))

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            for folder in sorted({self.out_dir, runner.work_dir}):
                for path in remove_stale_tmp(folder):
                    runner.logger.info(f'removed {path}: an unfinished write '
                                       'of a run killed while saving')
        hub = runner.message_hub
        self.good_step = hub.get_info('good_ckpt_step')
        self._spared = list(hub.get_info('spared_ckpt_ids') or [])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._loss_finite = losses_finite(outputs)
        if not self._loss_finite and self._pending:
            runner.logger.warning(
                f'loss not finite at iteration {runner.iter + 1}: checkpoint '
                f'{self._name(self._pending[-1][0])} is not trusted; the last '
                f'good one stays {self.last_good_checkpoint}')
            self._pending = []
        need = self.confirm_iters if self.by_epoch else \
            min(self.confirm_iters, self.interval)
        for entry in self._pending:
            entry[1] += self._loss_finite
        done = [step for step, n in self._pending if n >= need]
        if done:
            self._confirm(runner, max(done))
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train(self, runner) -> None:
        if self._pending and self._loss_finite:  # the run finished
            self._confirm(runner, self._pending[-1][0])
        super().after_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        keep = getattr(self, 'keep_ckpt_ids', None)
        if (self.max_keep_ckpts > 0 and keep and keep[-1] != step
                and len(keep) == self.max_keep_ckpts
                and keep[0] == self.good_step):
            self._spared.append(keep.popleft())  # the rotation must not
            runner.message_hub.update_info('spared_ckpt_ids',  # delete it
                                           list(self._spared))
        finite = self._weights_finite(runner)
        super()._save_checkpoint_with_step(runner, step, meta)
        if finite and self._loss_finite:
            if step not in [s for s, _ in self._pending]:
                self._pending.append([step, 0])
        else:
            runner.logger.warning(
                f'checkpoint {self._name(step)} has '
                f'{"NaN/Inf weights" if not finite else "a NaN/Inf loss"}; '
                f'the last good one stays {self.last_good_checkpoint}')

    def _confirm(self, runner, step: int) -> None:
        """``step`` becomes the good checkpoint; the older good one that the
        rotation passed over is deleted."""
        self._pending = [e for e in self._pending if e[0] > step]
        kept = self.max_keep_ckpts <= 0 or step in self.keep_ckpt_ids
        if not kept or (self.good_step is not None and step <= self.good_step):
            return  # rotated out already, or not newer
        self.good_step = step
        if is_main_process():
            for old in self._spared:
                if old != step:
                    self._remove(old)
        self._spared = []
        runner.message_hub.update_info('good_ckpt_step', step)
        runner.message_hub.update_info('spared_ckpt_ids', [])

    def _name(self, step: int) -> str:
        return self.filename_tmpl.format(step)

    def _remove(self, step: int) -> None:
        path = self.file_backend.join_path(self.out_dir, self._name(step))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves folders
            self.file_backend.rmtree(path)

    @staticmethod
    def _weights_finite(runner) -> bool:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        return all(bool(torch.isfinite(t).all())
                   for t in model.state_dict().values()
                   if torch.is_tensor(t) and t.is_floating_point())
