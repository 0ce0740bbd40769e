"""The bottom layer of the package (imports no other part of it).

* :mod:`.atomic`: atomic file writes that keep a plain write's file mode.
* :mod:`.checkpoint`: reading checkpoints weights-only with one clear
  :class:`CheckpointError` line, the student's weights of a checkpoint, the
  strict load with a key report.
* :mod:`.runner`: MMEngine's Runner whose ``load_from`` / ``resume`` refuse
  checkpoints that do not fit (used by ``tools/train.py`` and ``test.py``).
* :mod:`.mmengine_patches`: every change ``import mmseg_temporal`` makes to
  MMEngine, with the reason for each.
* :mod:`.launch`: train/test arguments, config loading, DDP on the CPU.
* :mod:`.image`: reading RGB frames.
* :mod:`.prefetch`: reading an iterator ahead on a thread (the frame
  sources of the inferencer and the demo).
"""
from .atomic import atomic_write_bytes, atomic_write_text
from .checkpoint import (
                         CheckpointError,
                         load_state_dict_strict,
                         load_student_weights,
                         read_checkpoint,
                         student_state_dict,
)

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'CheckpointError',
           'read_checkpoint', 'student_state_dict', 'load_state_dict_strict',
           'load_student_weights']
