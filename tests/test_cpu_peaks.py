"""The CPU's ISA flags (mmseg_temporal.utils.cpu_info) and the measured
peaks of benchmarks/speed/cpu_peaks.py in quick mode."""
import json
import sys
from pathlib import Path

import pytest

from mmseg_temporal.utils import cpu_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'speed'))
import cpu_peaks  # noqa: E402

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8
processor\t: 1
model name\t: Another CPU
flags\t\t: fpu
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx2 fma
"""
ARM = """processor\t: 0
Features\t: fp asimd bf16 i8mm
CPU implementer\t: 0x41
"""


def _cpuinfo(tmp_path, text):
    path = tmp_path / f'cpuinfo_{abs(hash(text))}'
    path.write_text(text)
    return cpu_info.read_cpuinfo(str(path))


def test_cpuinfo_is_read_from_the_first_cpu(tmp_path):
    info = _cpuinfo(tmp_path, XEON)
    assert info['model'] == 'Intel(R) Xeon(R) Processor'
    assert cpu_info.isa_summary(info['flags']) == {
        'AVX2': True, 'FMA': True, 'AVX-512F': True, 'AVX512_VNNI': True,
        'AVX512_BF16': True, 'AMX_BF16': True, 'AMX_INT8': True}
    assert cpu_info.native_bf16(info['flags'])
    epyc = _cpuinfo(tmp_path, EPYC)
    assert epyc['model'] == 'AMD EPYC 7B13'
    assert cpu_info.isa_summary(epyc['flags'])['AVX-512F'] is False
    assert not cpu_info.native_bf16(epyc['flags'])
    arm = _cpuinfo(tmp_path, ARM)  # aarch64 lists 'Features'
    assert cpu_info.native_bf16(arm['flags'])


def test_unreadable_cpuinfo_gives_no_flags(tmp_path):
    info = cpu_info.read_cpuinfo(str(tmp_path / 'no_such_file'))
    assert info['flags'] == frozenset() and info['model']


def test_bf16_is_refused_in_one_line_without_bf16_flags(monkeypatch):
    monkeypatch.setenv(cpu_info.FLAGS_ENV, 'avx2 fma')
    assert cpu_info.cpu_flags() == {'avx2', 'fma'}
    with pytest.raises(cpu_info.CPUFeatureError) as err:
        cpu_info.check_native_bf16('the bf16 path')
    msg = str(err.value)
    assert msg.startswith('the bf16 path: refused') and '\n' not in msg
    assert 'avx512_bf16' in msg and cpu_info.FLAGS_ENV in msg
    monkeypatch.setenv(cpu_info.FLAGS_ENV, 'avx2 amx_bf16')
    cpu_info.check_native_bf16('the bf16 path')  # no error


def test_onednn_verbose_names_the_kernel_of_each_case():
    text = '\n'.join([
        'onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with AVX512BW',
        'PROBE conv3x3|torch|bf16 native',
        'onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:bf16,,2x16,0.01',
        'onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_amx,'
        'forward_training,src:bf16,,mb2,0.06',
        'PROBE gemm|torch|fp32',  # MKL's sgemm: no oneDNN line
        'PROBE gemm|torch|int8',
        'onednn_verbose,v1,primitive,exec,cpu,gemm_api,,undef,src_s8,,64x64,16.1',
        'PROBE end'])
    kernels = cpu_peaks.parse_onednn_verbose(text)
    assert kernels['isa'] == 'Intel AVX-512 with AVX512BW'
    assert kernels[('conv3x3', 'torch', 'bf16 native')] == \
        'convolution brg_conv_fwd:avx512_core_amx'
    assert kernels[('gemm', 'torch', 'int8')] == 'gemm_api'
    assert ('gemm', 'torch', 'fp32') not in kernels
    assert cpu_peaks.kernel_name(('gemm', 'torch', 'fp32'), kernels).startswith(
        'no oneDNN primitive')


def test_quick_mode_measures_every_precision(tmp_path, capsys):
    out = tmp_path / 'peaks.json'
    result = cpu_peaks.main(['--quick', '--threads', '1', '--out', str(out)])
    table = capsys.readouterr().out
    assert json.loads(out.read_text())['rows'] == result['rows']
    machine = result['machine']
    assert machine['cpu_model'] == cpu_info.cpu_model()
    assert set(machine['isa']) == set(cpu_info.ISA_FLAGS)
    assert machine['native_bf16'] == cpu_info.native_bf16()
    rows = {(r['op'], r['framework'], r['precision']): r for r in result['rows']}
    for op in ('gemm', 'conv3x3'):
        for precision in ('fp32', 'bf16 autocast', 'bf16 native'):
            assert rows[(op, 'torch', precision)]['gflops'] > 0
        assert rows[(op, 'torch', 'fp32')]['vs_torch_fp32'] == pytest.approx(1.0)
    measured = [r for r in result['rows'] if r['gflops'] is not None]
    assert all(r['gflops'] > 0 and r['best_ms'] > 0 for r in measured)
    assert all(r['kernel'] and r['kernel'] != 'not probed' for r in result['rows'])
    if cpu_info.native_bf16() and machine['mkldnn']:
        assert rows[('conv3x3', 'torch', 'bf16 native')]['kernel'].startswith('oneDNN ')
        assert result['onednn_isa']
    assert machine['cpu_model'] in table
    for r in result['rows']:
        assert f'| {r["op"]} | {r["framework"]} | {r["precision"]} |' in table
