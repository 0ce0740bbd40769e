"""benchmarks/speed/gpu_check.py (and its _gpu_train_step.py) at tiny size on the CPU (--device cpu
--tiny): the table's fields and the correlation's agreement."""
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from mmseg_temporal.flow.estimators.correlation import correlation
from mmseg_temporal.utils import cpu_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'speed'))
import gpu_check  # noqa: E402

import _gpu_train_step as train_step  # noqa: E402


def test_reference_correlation_is_flownets_correlation():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(1, 4, 9, 11, generator=g), torch.randn(1, 4, 9, 11, generator=g)
    ref = gpu_check.reference_correlation(a, b, 3, 2)
    out = correlation(a, b, kernel_size=1, max_displacement=3, dilation_patch=2)
    assert torch.allclose(out.double(), ref, atol=1e-5)
    # one hand-computed entry: patch (i, j) = (4, 5) is displacement (2, 4)
    assert float(ref[0, 4, 5, 3, 2]) == pytest.approx(float((a[0, :, 3, 2] * b[0, :, 5, 6]).sum()),
                                                      abs=1e-5)
    # the comparison can fail: another dilation disagrees
    wrong = correlation(a, b, kernel_size=1, max_displacement=3, dilation_patch=1)
    assert not torch.allclose(wrong.double(), ref, atol=1e-2)


def test_cuda_without_cuda_is_one_clear_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    with pytest.raises(SystemExit, match='--device cuda but torch has no CUDA'):
        gpu_check.main(['--out-dir', str(tmp_path)])


def test_a_failing_part_is_a_row_not_a_crash():
    clock = train_step.Clock(torch.device('cpu'))

    def overflow():
        raise FloatingPointError('loss_tl (nan) not finite: NaN/Inf in the inputs\nmore')
    row = train_step.guarded(dict(part='train step', case='etc', precision='amp float16'),
                            overflow, clock)
    assert row['note'] == ('failed: FloatingPointError: loss_tl (nan) not finite: '
                           'NaN/Inf in the inputs') and 'ms' not in row
    ok = train_step.guarded(dict(part='fps'), lambda: dict(ms=2.0), clock)
    assert ok == dict(part='fps', ms=2.0)
    with pytest.raises(KeyError):  # a bug in the check itself still stops it
        train_step.guarded({}, lambda: {}['x'], clock)


def test_amp_rows_are_compared_to_fp32():
    rows = [dict(case='baseline', precision='fp32', ms=100.0, losses=dict(loss=2.0)),
            dict(case='baseline', precision='amp', ms=50.0, losses=dict(loss=2.2)),
            dict(case='etc', precision='fp32', ms=300.0, losses=dict(loss=1.0, loss_tl=0.5)),
            dict(case='etc', precision='amp', note='failed: ...')]
    train_step.compare_to_fp32(rows)
    assert rows[1]['agreement'] == pytest.approx(0.1)
    assert rows[1]['vs_fp32'] == pytest.approx(2.0)
    assert rows[2]['etc_over_baseline'] == pytest.approx(3.0)
    assert 'etc_over_baseline' not in rows[3] and 'agreement' not in rows[3]


@pytest.mark.slow
def test_tiny_run_on_cpu(tmp_path, capsys):
    result = gpu_check.main(['--device', 'cpu', '--tiny', '--out-dir', str(tmp_path)])
    table = capsys.readouterr().out
    saved = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert saved['rows'] == json.loads(json.dumps(result['rows']))
    assert (tmp_path / 'gpu_check.md').read_text().strip() in table
    assert result['machine']['cpu'] == cpu_info.cpu_model()
    rows = {}
    for r in result['rows']:
        rows.setdefault(r['part'], []).append(r)
    assert set(rows) == {'correlation', 'train step', 'fps'}
    # correlation: the project's path against the shift reference
    assert [r['case'] for r in rows['correlation']] == ['project torch path (cpu)']
    assert all(r['agreement'] < 1e-5 and r['ms'] > 0 for r in rows['correlation'])
    # train step: baseline and ETC, fp32 and bf16, losses compared
    steps = {(r['case'], r['precision']): r for r in rows['train step']}
    amp = 'bf16 autocast'
    if not cpu_info.native_bf16():  # refused there: fp32 rows only
        assert {p for _, p in steps} == {'fp32'}
        return
    assert set(steps) == {(c, p) for c in ('baseline', 'etc') for p in ('fp32', amp)}
    for r in steps.values():
        assert r['ms'] > 0 and all(math.isfinite(v) for v in r['losses'].values())
    assert {'loss_tl', 'loss_pf', 'loss_mf', 'loss_sf_pixel', 'loss_sf_pair'} <= \
        set(steps[('etc', 'fp32')]['losses'])
    for case in ('baseline', 'etc'):
        assert set(steps[(case, amp)]['losses']) == set(steps[(case, 'fp32')]['losses'])
        assert math.isfinite(steps[(case, amp)]['agreement'])
        assert steps[(case, amp)]['vs_fp32'] > 0
    for p in ('fp32', amp):
        assert steps[('etc', p)]['etc_over_baseline'] == pytest.approx(
            steps[('etc', p)]['ms'] / steps[('baseline', p)]['ms'])
    # fps: the exported student at both sizes, fp32 and bf16
    assert {(r['case'], r['precision']) for r in rows['fps']} == {
        (f'pspnet_r18 {s}', p) for s in ('64x128', '36x48') for p in ('fp32', amp)}
    assert all(r['fps'] > 0 for r in rows['fps'])
    assert '| part | case | precision | ms | fps |' in table
