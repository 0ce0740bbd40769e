"""Experiment steps shared by the main job and the studies: resumable
training and scoring through the checked runner."""
from .steps import test_checkpoint, train_unless_done

__all__ = ['train_unless_done', 'test_checkpoint']
