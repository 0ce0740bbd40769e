"""experiments.steps: interleaved latency (no timed asserts: call order,
resets and the returned statistics)."""
from types import SimpleNamespace

import numpy as np
import pytest

from mmseg_temporal.experiments.steps import interleaved_frame_timings, median_and_spread


class _Inferencer:
    """Records the order of its calls and its smoothing resets."""

    def __init__(self, name, log):
        self.name, self.log = name, log

    def reset(self):
        self.log.append(f'reset {self.name}')

    def predict(self, frame, index, path=None):
        self.log.append((self.name, index, path))
        return SimpleNamespace(timing=dict(total=float(index), model=1.0))


def test_interleaved_frame_timings_rotate_and_skip_the_warmup():
    log = []
    arms = {'a': _Inferencer('a', log), 'b': _Inferencer('b', log)}
    frames = [np.zeros((2, 2, 3), np.uint8)] * 3
    out = interleaved_frame_timings(arms, frames, ['f0', 'f1', 'f2'], warmup=2, rounds=2)
    calls = [e for e in log if not isinstance(e, str)]
    # the first to run rotates each frame; every arm sees every frame's path
    assert [c[0] for c in calls] == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert [c[1:] for c in calls[::2]] == [(0, 'f0'), (1, 'f1'), (2, 'f2')] * 2
    # each pass starts from a fresh smoothing state
    assert log.count('reset a') == log.count('reset b') == 2 and log[0] == 'reset a'
    # 6 frames in all, the first 2 not counted
    assert [t['total'] for t in out['a']] == [2.0, 0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match='nothing to count'):
        interleaved_frame_timings(arms, frames, warmup=3)
    with pytest.raises(ValueError, match='but 2 paths'):
        interleaved_frame_timings(arms, frames, ['x', 'y'])


def test_median_and_spread():
    stats = median_and_spread([float(v) for v in range(10, 0, -1)])
    assert stats == pytest.approx(dict(median=5.5, p10=1.9, p90=9.1))
    assert median_and_spread([3.0]) == dict(median=3.0, p10=3.0, p90=3.0)
