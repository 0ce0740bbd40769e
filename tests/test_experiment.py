"""experiments.steps: interleaved latency (no timed asserts: call order and
the returned statistics' shape)."""
import torch

from mmseg_temporal.experiments.steps import interleaved_ms_per_frame


class _Counting(torch.nn.Module):
    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log

    def _forward(self, x):
        self.log.append(self.name)
        return x


def test_interleaved_ms_per_frame_alternates_models():
    log = []
    out = interleaved_ms_per_frame(
        {'a': _Counting('a', log), 'b': _Counting('b', log)}, (4, 4),
        rounds=10, warmup=2)
    assert log == ['a', 'b'] * 12  # one call of each model per round, in turn
    for stats in out.values():
        assert set(stats) == {'median', 'p10', 'p90'}
        assert 0 <= stats['p10'] <= stats['median'] <= stats['p90']

