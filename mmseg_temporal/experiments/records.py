"""What a study keeps of each run: where its code came from (the commit),
when it trained and resumed, its log copied beside the study's results,
and its scores cached as JSON written atomically (a killed run never
leaves a half-written file that a resumed run would trust)."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..utils.atomic import atomic_write_text
from .steps import train_unless_done

__all__ = ['git_commit', 'train_recorded', 'cached_json', 'write_json',
           'scalar_metrics', 'restore_scores']


def git_commit(root: Optional[str] = None) -> str:
    """The commit checked out at ``root`` (this package's folder by
    default), or ``'unknown'`` outside a git work tree."""
    root = root or osp.dirname(osp.abspath(__file__))
    try:
        return subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def write_json(path: str, obj, indent: Optional[int] = None) -> None:
    """``obj`` as JSON at ``path``, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent))


def cached_json(path: str, compute: Callable[[], Dict],
                recompute: bool = False, required: Sequence[str] = ()) -> Dict:
    """The JSON at ``path``, else ``compute()`` written there atomically. A
    cached file without every key of ``required`` (written by an older
    version of its study) is refused, naming the file and the keys."""
    if osp.exists(path) and not recompute:
        with open(path) as f:
            cached = json.load(f)
        missing = [k for k in required if k not in cached]
        if missing:
            raise ValueError(f'{path}: cached scores without {missing} (an older '
                             'format): score again with --rescore')
        return cached
    result = compute()
    write_json(path, result)
    return result


def restore_scores(named_paths: Iterable[Tuple[str, str]],
                   recorded: str) -> List[str]:
    """Writes back, for every ``(name, path)`` whose file is missing, the
    scores that ``recorded`` (a study's ``results.json``: ``{'scores':
    {name: figures}}``) holds under ``name``: a work dir does not outlive
    its machine, the logs folder beside the results is committed, so a
    study resumed on a fresh clone skips the runs it has scored. Returns
    the paths written; none when ``recorded`` does not exist. A recorded
    entry that is not a dict of figures is refused, naming the file."""
    if not osp.exists(recorded):
        return []
    with open(recorded) as f:
        scores = json.load(f).get('scores', {})
    written = []
    for name, path in named_paths:
        if name not in scores or osp.exists(path):
            continue
        if not isinstance(scores[name], dict):
            raise ValueError(f'{recorded}: scores[{name!r}] is not a dict of figures')
        write_json(path, scores[name])
        written.append(path)
    return written


def scalar_metrics(metrics: Dict) -> Dict[str, float]:
    """The scalar figures of a test loop's metrics as floats (NumPy and
    tensor scalars included: ``SparseIoUMetric``'s mIoU is a float32)."""
    import numpy as np
    return {k: float(v) for k, v in metrics.items()
            if not isinstance(v, str) and np.ndim(v) == 0}


def _check_same_model(cfg: Config, path: str) -> None:
    """A run folder trained once keeps its model: a config with another
    model (e.g. a study started with another student in the same work dir)
    is refused instead of reusing the folder's checkpoints."""
    if not osp.exists(path):
        return
    def plain(model) -> str:  # tuples and lists alike, as a dump reads back
        return json.dumps(model.to_dict(), sort_keys=True, default=str)
    saved = Config.fromfile(path)
    if plain(saved.model) != plain(cfg.model):
        raise ValueError(f'{cfg.work_dir} holds a run of another model '
                         f'({path} differs from this config\'s model): use '
                         'another work dir')
    wrappers = [c.get('optim_wrapper', {}).get('type', 'OptimWrapper') for c in (saved, cfg)]
    if wrappers[0] != wrappers[1]:
        raise ValueError(f'{cfg.work_dir} holds a run trained with {wrappers[0]}, '
                         f'this config trains with {wrappers[1]} (another precision): '
                         'resume it as it was, or use another work dir')


def _copy_logs(work_dir: str, name: str, logs_to: str) -> None:
    os.makedirs(logs_to, exist_ok=True)
    logs = sorted(glob.glob(osp.join(work_dir, '2*', '2*.log')))
    for i, log in enumerate(logs):
        shutil.copy(log, osp.join(logs_to, name + (f'.{i}' if i else '') + '.log'))
    prov = osp.join(work_dir, 'provenance.json')
    if osp.exists(prov):
        shutil.copy(prov, osp.join(logs_to, f'{name}.provenance.json'))


def train_recorded(cfg: Config, name: str, logs_to: str,
                   tag: str = 'study') -> str:
    """Trains ``cfg`` unless its final checkpoint exists (a killed run
    resumes), keeping ``provenance.json`` in the run folder (commit,
    started, every resume's commit, training seconds, finished) and the
    config as ``study_config.py`` (a folder that holds another model's run
    is refused); copies the run's logs to ``logs_to`` as
    ``<name>.log``. Returns the final checkpoint."""
    os.makedirs(cfg.work_dir, exist_ok=True)
    _check_same_model(cfg, osp.join(cfg.work_dir, 'study_config.py'))
    cfg.dump(osp.join(cfg.work_dir, 'study_config.py'))
    prov_file = osp.join(cfg.work_dir, 'provenance.json')
    prov = dict(commit=git_commit(), started=time.strftime('%F %T'))
    if osp.exists(prov_file):
        with open(prov_file) as f:
            prov = json.load(f)
        prov.setdefault('resumed_on', []).append(git_commit())
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if not osp.exists(ckpt):
        write_json(prov_file, prov, indent=1)
        start = time.time()
        print(f'[{tag}] {time.strftime("%T")} training {name} '
              f'({cfg.train_cfg.max_iters} iterations) in {cfg.work_dir}', flush=True)
        train_unless_done(cfg)
        prov['train_s'] = prov.get('train_s', 0) + round(time.time() - start)
        prov['finished'] = time.strftime('%F %T')
        write_json(prov_file, prov, indent=1)
    _copy_logs(cfg.work_dir, name, logs_to)
    return ckpt
