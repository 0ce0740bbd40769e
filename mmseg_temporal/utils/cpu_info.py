"""What the CPU offers: its model and the ISA flags the precision paths need.

Read from ``/proc/cpuinfo`` (Linux; x86 ``flags`` and aarch64 ``Features``
lines). The precision paths ask :func:`check_native_bf16` before running
bfloat16 on the CPU: without ``avx512_bf16`` / ``amx_bf16`` (x86) or
``bf16`` (aarch64) PyTorch emulates bfloat16 with float32 arithmetic plus
conversions, slower than float32, so bf16 is refused with the reason
instead.

The environment variable ``MMSEG_TEMPORAL_CPU_FLAGS`` (space-separated
flags) replaces the flags read from ``/proc/cpuinfo``: to see what a run
would do on another CPU (``MMSEG_TEMPORAL_CPU_FLAGS="avx2 fma"``: an
AVX2-only CPU), in tests, or to force bf16 where ``/proc/cpuinfo`` cannot
be read.
"""
import functools
import os
import platform
from typing import Dict, FrozenSet, Optional

__all__ = ['ISA_FLAGS', 'BF16_FLAGS', 'FLAGS_ENV', 'CPUFeatureError',
           'read_cpuinfo', 'cpu_model', 'cpu_flags', 'isa_summary',
           'native_bf16', 'check_native_bf16', 'machine_line']

#: The ISA features reported by the benchmarks: name -> /proc/cpuinfo flag.
ISA_FLAGS = {
    'AVX2': 'avx2',
    'FMA': 'fma',
    'AVX-512F': 'avx512f',
    'AVX512_VNNI': 'avx512_vnni',
    'AVX512_BF16': 'avx512_bf16',
    'AMX_BF16': 'amx_bf16',
    'AMX_INT8': 'amx_int8',
}
#: Any of these means bfloat16 arithmetic in hardware (x86, aarch64).
BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'bf16')
FLAGS_ENV = 'MMSEG_TEMPORAL_CPU_FLAGS'
CPUINFO = '/proc/cpuinfo'


class CPUFeatureError(RuntimeError):
    """The CPU lacks what a precision path needs (one line: what and why)."""


def read_cpuinfo(path: str = CPUINFO) -> Dict[str, object]:
    """``model`` (str) and ``flags`` (frozenset) of the first CPU listed in
    ``path``; ``model`` falls back to :mod:`platform`, ``flags`` to empty
    when the file cannot be read."""
    model, flags = '', frozenset()
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip().lower()
                if key == 'model name' and not model:
                    model = value.strip()
                elif key in ('flags', 'features') and not flags:
                    flags = frozenset(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return dict(model=model or platform.processor() or platform.machine()
                or 'unknown CPU', flags=flags)


@functools.lru_cache(maxsize=None)
def _this_cpu() -> Dict[str, object]:
    return read_cpuinfo(CPUINFO)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name``)."""
    return str(_this_cpu()['model'])


def cpu_flags() -> FrozenSet[str]:
    """The CPU's ISA flags, or those of ``MMSEG_TEMPORAL_CPU_FLAGS`` when it
    is set."""
    override = os.environ.get(FLAGS_ENV)
    if override is not None:
        return frozenset(override.split())
    return _this_cpu()['flags']


def isa_summary(flags: Optional[FrozenSet[str]] = None) -> Dict[str, bool]:
    """``{'AVX2': True, ..., 'AMX_INT8': False}`` for :data:`ISA_FLAGS`."""
    flags = cpu_flags() if flags is None else flags
    return {name: flag in flags for name, flag in ISA_FLAGS.items()}


def native_bf16(flags: Optional[FrozenSet[str]] = None) -> bool:
    """Whether the CPU does bfloat16 arithmetic in hardware."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_FLAGS)


def check_native_bf16(what: str = 'bfloat16 on the CPU') -> None:
    """Raise :class:`CPUFeatureError` (one line naming ``what``, the CPU and
    the flags looked for) unless :func:`native_bf16`."""
    if native_bf16():
        return
    source = (f'${FLAGS_ENV}' if os.environ.get(FLAGS_ENV) is not None
              else CPUINFO)
    raise CPUFeatureError(
        f'{what}: refused, this CPU ({cpu_model()}) has none of the bfloat16 '
        f'flags {"/".join(BF16_FLAGS)} in {source}, so PyTorch would emulate '
        'bfloat16 more slowly than float32; train in float32 (drop the bf16 '
        f'switch) or, if the flags are misread, set {FLAGS_ENV}')


def _threads(n: int) -> str:
    return f'{n} thread' + ('' if n == 1 else 's')


def machine_line(**extra) -> str:
    """``machine: CPU, N cores, torch V (T threads), OpenCV V (T threads),
    load average L`` and any ``key=value`` of ``extra``: the line every
    benchmark and study log starts with."""
    import torch
    parts = [cpu_model(), f'{os.cpu_count()} cores',
             f'torch {torch.__version__} ({_threads(torch.get_num_threads())})']
    try:
        import cv2
        parts.append(f'OpenCV {cv2.__version__} ({_threads(cv2.getNumThreads())})')
    except ImportError:
        pass
    parts.append(f'load average {os.getloadavg()[0]:.2f}')
    parts += [f'{k.replace("_", " ")} {v}' for k, v in extra.items()]
    return 'machine: ' + ', '.join(parts)
