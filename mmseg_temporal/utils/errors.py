"""The project's user-error types: one home.

A *user error* is a fault in what the user gave (a config value, a data
file, a checkpoint), not in the code. Its message is one line that names the
key, the file or the value at fault and, where there is one, what to do.
Command-line tools end on one with ``error: <message>`` and exit status 1
(:func:`mmseg_temporal.utils.cli.run_tool`), without a traceback.

* :class:`ConfigError`: a config key whose value cannot work (a negative
  loss weight, an unknown loss key, a loss that needs a flow source and has
  none). The message starts with the key (``model.losses.tl.loss_weight``).
* :class:`DataError`: data that cannot be used (a label id outside the
  class range, an unreadable label, a stale or foreign flow cache). The
  message names the file.
* ``CheckpointError`` (:mod:`.checkpoint`): a checkpoint that cannot be
  used.

Both derive from ``ValueError`` so that code catching ``ValueError`` around
config and data checks keeps working. Missing files stay
``FileNotFoundError`` (the message names the file).
"""

__all__ = ['ConfigError', 'DataError']


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


class DataError(ValueError):
    """Data that cannot be used; the message names the file."""
