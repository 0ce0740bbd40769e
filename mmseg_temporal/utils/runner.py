"""MMEngine's Runner, with checkpoint loading that refuses what does not fit.

MMEngine's ``Runner.load_checkpoint`` (behind ``load_from`` and ``resume``)
loads non-strictly: a checkpoint of another model only logs "missing keys"
warnings and the run goes on with random weights, and a damaged file ends in
a raw torch traceback. :class:`CheckedLoadRunner` reads the file with
:func:`~mmseg_temporal.utils.checkpoint.read_checkpoint` and checks the
weights against the model first, so both end in one
:class:`~mmseg_temporal.utils.checkpoint.CheckpointError` line naming the
file. ``tools/train.py`` and ``tools/test.py`` use it.

A config's ``console_log_level`` (e.g. ``'WARNING'``) keeps the console
to that level and above while the run's log file keeps everything (the
main job sets it; ``ProgressBarHook`` then shows progress).

When a run diverges (``FloatingPointError``), its ``train()`` adds a note
naming the last checkpoint whose weights and losses were finite (kept by
:class:`~mmseg_temporal.engine.hooks.FiniteCheckpointHook`, which also
removes the ``.NAME.tmp-XXXXXXXX`` leftovers of a run killed while saving).
"""
import logging
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Union

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from .checkpoint import CheckpointError, check_state_dict_fits, model_state_dict, read_checkpoint

__all__ = ['CheckedLoadRunner', 'exit_on_checkpoint_error']


class CheckedLoadRunner(Runner):
    """A :class:`mmengine.runner.Runner` whose ``load_checkpoint`` refuses
    weights that do not fit the model.

    When resuming, or when :attr:`checkpoint_must_fit` is set (testing),
    every model weight must be in the checkpoint with its shape (extra
    weights, e.g. an auxiliary head the test config lacks, are ignored).
    Otherwise (``load_from`` to fine-tune) MMEngine's partial load is kept,
    but a checkpoint sharing no weight with the model is refused. A model
    that renames a checkpoint's keys on load (a load-state-dict pre-hook,
    e.g. ``EMASmoothedSegmentor``) says how with a method
    ``checkpoint_keys(state) -> state``; the check applies it first.
    """

    checkpoint_must_fit: bool = False

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        """MMEngine's logger; with the config's ``console_log_level`` its
        console handler shows only that level and above (the log file
        keeps ``log_level``)."""
        logger = super().build_logger(log_level, log_file, **kwargs)
        console = self.cfg.get('console_log_level')
        if console is not None:
            level = logging.getLevelName(console) if isinstance(console, str) else console
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setLevel(max(handler.level, level))
        return logger

    def train(self):
        """As MMEngine's; a diverged run's ``FloatingPointError`` names the
        last good checkpoint."""
        try:
            return super().train()
        except FloatingPointError as e:
            keepers = [h for h in self.hooks
                       if hasattr(h, 'last_good_checkpoint')]
            if keepers:
                e.add_note('the last checkpoint whose weights and losses '
                           'were finite: '
                           f'{keepers[0].last_good_checkpoint or "none yet"}')
            raise

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys=((r'^module\.', ''), )):
        """As MMEngine's, after :meth:`check_fits`."""
        checkpoint = read_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        self.check_fits(model, checkpoint, filename, strict)
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict,
                                               revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def check_fits(self, model, checkpoint: dict, filename: str,
                   strict: bool = False) -> None:
        """Raises :class:`CheckpointError` when the weights of
        ``checkpoint`` do not fit ``model`` (see the class doc)."""
        state = model_state_dict(checkpoint, filename)
        if hasattr(model, 'checkpoint_keys'):
            state = model.checkpoint_keys(state)
        source = f'checkpoint {filename}'
        if strict or self.checkpoint_must_fit or self._resume:
            check_state_dict_fits(model, state, source,
                                  allow_unexpected=not strict)
        elif not set(state) & set(model.state_dict()):
            check_state_dict_fits(model, state, source)


@contextmanager
def exit_on_checkpoint_error() -> Iterator[None]:
    """For command-line tools: a :class:`CheckpointError` ends the process
    with its one line on stderr (exit status 1), not a traceback."""
    try:
        yield
    except CheckpointError as e:
        sys.exit(f'error: {e}')
