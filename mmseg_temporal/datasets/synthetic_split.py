"""Writing the synthetic video to disk, video by video, safely.

The file layout is :mod:`mmseg_temporal.datasets.synthetic_format`'s.
A split folder appears with its manifest in one ``os.replace`` (so a folder
without a manifest is not one of ours and is never touched); then each
missing video is rendered into a temporary folder and moved into place in
one ``os.replace`` (so a video folder that exists is complete), and the
manifest, rewritten atomically, records how many videos are on disk.

So one folder serves any ``num_videos``: asking for more renders only the
missing videos, asking for fewer reads the first ones, nothing on disk is
re-rendered. Several processes (DDP ranks, concurrent jobs) may ask at
once: they take turns through a lock file in the split folder, and where
the file system has no locks a video rendered twice is the same pixels
(the generator is deterministic) and the second copy is discarded.
"""
import contextlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Iterator

import cv2

from ..utils.atomic import atomic_write_bytes
from .synthetic_format import FORMAT_VERSION, MANIFEST, synthetic_paths, synthetic_video_dir

__all__ = ['write_synthetic_split', 'read_manifest']

_LOCK = '.render.lock'


def _params(generator, frames_per_video: int, first_video: int) -> Dict:
    """What determines every pixel of a split (all but ``num_videos``)."""
    return dict(format=FORMAT_VERSION, generator=generator.params(),
                frames_per_video=int(frames_per_video),
                first_video=int(first_video))


def read_manifest(split_dir: str, want: Dict) -> Dict:
    """The manifest of an existing split, if it was made with the parameters
    ``want`` (its ``num_videos`` may be anything).

    Raises:
        ValueError: the folder has no manifest (not ours), or other
            parameters (the message names the differing keys).
    """
    path = osp.join(split_dir, MANIFEST)
    if not osp.exists(path):
        raise ValueError(f'{split_dir} exists but has no {MANIFEST}: not a '
                         'synthetic split written by mmseg_temporal; refusing '
                         'to overwrite it')
    with open(path) as f:
        have = json.load(f)
    diff = sorted(k for k in (set(want) | set(have)) - {'num_videos'}
                  if want.get(k) != have.get(k))
    if diff:
        raise ValueError(
            f'{path}: the synthetic split on disk was made with other '
            f'parameters (differing keys: {diff}; on disk '
            f'{ {k: have.get(k) for k in diff} }, requested '
            f'{ {k: want.get(k) for k in diff} }). Use another data_root '
            'or delete that folder.')
    return have


def _write_manifest(split_dir: str, manifest: Dict) -> None:
    atomic_write_bytes(osp.join(split_dir, MANIFEST),
                       json.dumps(manifest, indent=1).encode())


def _create_split(root: str, split: str, want: Dict) -> str:
    """Creates the split folder with a manifest of no videos, atomically,
    unless it exists; returns its path."""
    split_dir = osp.join(root, split)
    if osp.exists(split_dir):
        return split_dir
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{split}.tmp-', dir=root)
    try:
        _write_manifest(tmp, dict(want, num_videos=0))
        try:
            os.replace(tmp, split_dir)
        except OSError:
            if not osp.exists(split_dir):
                raise  # not a lost race: a real error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return split_dir


@contextlib.contextmanager
def _locked(split_dir: str) -> Iterator[None]:
    """Holds an exclusive lock on the split (where the OS has ``flock``)."""
    try:
        import fcntl
    except ImportError:  # no flock: atomic video folders still keep it safe
        yield
        return
    with open(osp.join(split_dir, _LOCK), 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _render_video(generator, split_dir: str, k: int, video_index: int,
                  frames_per_video: int) -> None:
    """Renders video ``k`` of the split into place, atomically."""
    target = synthetic_video_dir(split_dir, '.', k)
    tmp = tempfile.mkdtemp(prefix=f'.video_{k:03d}.tmp-', dir=split_dir)
    try:
        video = generator.render(video_index, frames_per_video)
        for t in range(frames_per_video):
            p = synthetic_paths(tmp, '.', 0, t)
            os.makedirs(osp.dirname(p['img']), exist_ok=True)
            cv2.imwrite(p['img'], video['imgs'][t][..., ::-1])
            cv2.imwrite(p['label'], video['labels'][t])
            cv2.imwrite(p['layers'], video['layers'][t])
        with open(synthetic_paths(tmp, '.', 0, 0)['motion'], 'w') as f:
            json.dump(dict(video_index=video_index,
                           velocities=video['velocities'].tolist()), f)
        try:
            os.replace(synthetic_video_dir(tmp, '.', 0), target)
        except OSError:
            if not osp.isdir(target):
                raise  # another process did not win the race: a real error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _videos_on_disk(split_dir: str) -> int:
    """How many videos ``0, 1, ...`` are on disk, in a row."""
    k = 0
    while osp.isdir(synthetic_video_dir(split_dir, '.', k)):
        k += 1
    return k


def write_synthetic_split(root: str, split: str, generator,
                          num_videos: int, frames_per_video: int,
                          first_video: int = 0) -> Dict:
    """Makes sure videos ``0 .. num_videos-1`` of a split are on disk,
    rendering only the missing ones (see the module docstring).

    Args:
        root: the dataset's ``data_root``.
        split: its sub-folder (``'train'``, ``'val'``, ``'test'``).
        generator: a :class:`~mmseg_temporal.datasets.synthetic_video.
            SyntheticVideoGenerator` (``params()`` and ``render()``).
        num_videos, frames_per_video: what is asked for.
        first_video: generator index of the split's video 0.

    Returns:
        The split's manifest dict (``num_videos``: the videos on disk,
        ``>= num_videos``).

    Raises:
        ValueError: the folder is not a synthetic split, or holds one made
            with other parameters (the message names the keys).
    """
    want = _params(generator, frames_per_video, first_video)
    split_dir = _create_split(root, split, want)
    have = read_manifest(split_dir, want)
    missing = [k for k in range(num_videos)
               if not osp.isdir(synthetic_video_dir(split_dir, '.', k))]
    if not missing and have.get('num_videos', 0) >= num_videos:
        return have
    with _locked(split_dir):
        for k in missing:  # another process may have rendered some meanwhile
            if not osp.isdir(synthetic_video_dir(split_dir, '.', k)):
                _render_video(generator, split_dir, k, first_video + k,
                              frames_per_video)
        have = dict(read_manifest(split_dir, want),
                    num_videos=_videos_on_disk(split_dir))
        _write_manifest(split_dir, have)
    return have
