"""What the speed benchmarks share: timing and child-process results (the
machine line is :func:`mmseg_temporal.utils.cpu_info.machine_line`).

Benchmarks run as scripts (``python benchmarks/speed/NAME.py``); Python puts this
folder first on ``sys.path``, so ``import _common`` needs no path change.
They import the package (``mmseg_temporal``), never ``tools/``.

* :func:`time_calls`: wall times of repeated calls after a warm-up (CUDA
  synchronised), and :func:`median`.
* :func:`random_student`: a student config exported (plain MMSeg config +
  checkpoint) with seeded random weights: latency does not depend on them.
* :func:`samples_of`: the ground-truth predictions of a synthetic sequence
  dataset (the TC evaluation benchmarks).
* :func:`memory_status` / :func:`reset_peak_rss`: this process's resident
  memory and its peak (``/proc/self/status``), and the kernel's peak
  counter reset (``/proc/self/clear_refs``, Linux >= 4.0), which sees torch's
  CPU allocations (``tracemalloc`` does not).
* :func:`emit_result` / :func:`run_child`: a child process prints its result
  as one ``RESULT {json}`` line; the parent runs it and gets the dict back,
  or an error with the child's exit status and the tail of its output.
"""
import json
import re
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence

RESULT_TAG = 'RESULT '


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


def memory_status() -> Dict[str, int]:
    """``{'VmRSS': bytes, 'VmHWM': bytes}`` of this process: resident memory
    now and its peak since start or the last :func:`reset_peak_rss`."""
    with open('/proc/self/status') as f:
        text = f.read()
    return {key: int(re.search(key + r':\s+(\d+) kB', text).group(1)) * 1024
            for key in ('VmRSS', 'VmHWM')}


def reset_peak_rss() -> bool:
    """Sets ``VmHWM`` back to the current RSS; False where the kernel does
    not allow it (the caller then falls back to ``ru_maxrss``)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


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


def samples_of(dataset, indices=None):
    """``SegDataSample``s of a sequence-mode synthetic dataset whose
    predictions are the ground-truth labels (``indices``: default all)."""
    import cv2
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    out = []
    for i in (range(len(dataset)) if indices is None else indices):
        info = dataset.get_data_info(i)
        label = cv2.imread(info['label_path'], cv2.IMREAD_UNCHANGED)
        s = SegDataSample(metainfo=dict(seq_name=info['seq_name'],
                                        frame_index=info['frame_index'],
                                        img_path=info['img_path']))
        s.pred_sem_seg = PixelData(data=torch.from_numpy(label[None].astype(np.int64)))
        out.append(s)
    return out


def random_student(config: str, out_dir: str, name: str = 'student'):
    """``(config, checkpoint)`` of ``config``'s student exported with random
    weights (seed 0) into ``out_dir/name``."""
    import os.path as osp

    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_temporal.deploy.export import export_student
    from mmseg_temporal.models.segmentors.student_config import student_model_config
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(student_model_config(Config.fromfile(config)))
    model.init_weights()
    ckpt = osp.join(out_dir, f'{name}_random.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    return export_student(config, ckpt, osp.join(out_dir, name))
