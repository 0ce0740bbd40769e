"""The harness of the main job and the studies: one config adjuster
(:func:`study_config`), resumable train / score steps through the checked
runner, paired statistics over seeds."""
from .stats import format_difference, paired_difference, t_quantile
from .steps import test_checkpoint, train_unless_done
from .study_config import study_config

__all__ = ['train_unless_done', 'test_checkpoint', 'study_config',
           'paired_difference', 'format_difference', 't_quantile']
