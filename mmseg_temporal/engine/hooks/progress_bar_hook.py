"""A progress bar per training and test run, for jobs whose console shows
only warnings (``console_log_level`` of
:class:`~mmseg_temporal.utils.runner.CheckedLoadRunner`): MMEngine's logger
then writes the iteration lines to the run's log file alone."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['ProgressBarHook']


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """One ``tqdm`` bar over a run's training iterations and one over its
    test (and validation) batches, on the main process only, with the last
    logged loss in the training bar.

    Args:
        desc (str): text before the bar (default: the experiment name).
    """

    priority = 'VERY_LOW'

    def __init__(self, desc: Optional[str] = None) -> None:
        self.desc = desc
        self._bar = None

    def _open(self, runner, total: int, what: str, leave: bool = True) -> None:
        self._close()
        if is_main_process() and total:
            from tqdm import tqdm
            name = self.desc or runner.experiment_name
            self._bar = tqdm(total=total, desc=f'{name} {what}', leave=leave,
                             dynamic_ncols=True, mininterval=1.0)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_train(self, runner) -> None:
        self._open(runner, runner.max_iters, 'train')
        if self._bar is not None:
            self._bar.update(runner.iter)  # a resumed run starts where it was

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._bar is not None:
            self._bar.update(1)
            loss = (outputs or {}).get('loss')
            if loss is not None:
                self._bar.set_postfix(loss=f'{float(loss):.3f}', refresh=False)

    def after_train(self, runner) -> None:
        self._close()

    def before_val(self, runner) -> None:
        self._train_bar, self._bar = self._bar, None
        self._open(runner, len(runner.val_dataloader), 'val', leave=False)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def after_val(self, runner) -> None:
        self._close()
        self._bar = getattr(self, '_train_bar', None)

    def before_test(self, runner) -> None:
        self._open(runner, len(runner.test_dataloader), 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def after_test(self, runner) -> None:
        self._close()
