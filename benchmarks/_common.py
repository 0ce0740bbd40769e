"""What the benchmarks share: the machine line, timing, child-process results.

Benchmarks run as scripts (``python benchmarks/NAME.py``); Python puts this
folder first on ``sys.path``, so ``import _common`` needs no path change.
They import the package (``mmseg_temporal``), never ``tools/``.

* :func:`machine_line`: one line naming the CPU (``/proc/cpuinfo``, read
  once), the cores, torch and OpenCV with their threads, the load average.
* :func:`time_calls`: wall times of repeated calls after a warm-up (CUDA
  synchronised), and :func:`median`.
* :func:`emit_result` / :func:`run_child`: a child process prints its result
  as one ``RESULT {json}`` line; the parent runs it and gets the dict back,
  or an error with the child's exit status and the tail of its output.
"""
import functools
import json
import os
import platform
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence

RESULT_TAG = 'RESULT '


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else platform's guess."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown CPU'


def _threads(n: int) -> str:
    return f'{n} thread' + ('' if n == 1 else 's')


def machine_line(**extra) -> str:
    """``machine: CPU, N cores, torch V (T threads), OpenCV V (T threads),
    load average L`` and any ``key=value`` of ``extra``."""
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


def time_calls(fn: Callable[[], object], repeats: int,
               warmup: int = 1) -> List[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup``
    untimed calls (CUDA synchronised around each call when present)."""
    import torch
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def emit_result(result: Dict) -> None:
    """Prints ``result`` as the child's ``RESULT {json}`` line."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def run_child(cmd: Sequence[str], what: str, env: Optional[Dict] = None,
              cwd: Optional[str] = None, timeout: Optional[float] = None,
              show_stderr_lines: str = '') -> Dict:
    """Runs ``cmd`` and returns the dict of its last ``RESULT`` line (with
    ``wall``: its wall time in seconds).

    Args:
        what: names the run in an error.
        show_stderr_lines: stderr lines starting with this are printed (a
            child's progress), when not empty.

    Raises:
        RuntimeError: the child failed or printed no result, with its exit
            status and the tail of its output.
    """
    start = time.perf_counter()
    out = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    if show_stderr_lines:
        lines = [line for line in out.stderr.splitlines()
                 if line.startswith(show_stderr_lines)]
        if lines:
            print('\n'.join(lines), flush=True)
    results = [line for line in out.stdout.splitlines()
               if line.startswith(RESULT_TAG)]
    if out.returncode != 0 or not results:
        raise RuntimeError(f'{what} failed (exit {out.returncode}, '
                           f'{"a" if results else "no"} result):\n'
                           f'{out.stdout[-3000:]}{out.stderr[-6000:]}')
    result = json.loads(results[-1][len(RESULT_TAG):])
    result['wall'] = time.perf_counter() - start
    return result
