"""`import mmseg_temporal`: registers everything, no network."""
import subprocess
import sys

import pytest

import mmseg_temporal


def test_version_is_the_newest_changelog_entry():
    """A version bump without its CHANGELOG.md entry (or an entry without
    the bump) fails here."""
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / 'CHANGELOG.md').read_text()
    entries = re.findall(r'^## (\S+)', text, re.M)
    assert entries and entries[0] == mmseg_temporal.__version__, entries[:2]


def test_registries_filled():
    from mmseg.registry import DATASETS, MODELS, TRANSFORMS
    for name in ('SyntheticVideoDataset', 'CamVidVideoDataset',
                 'CityscapesVideoDataset'):
        assert DATASETS.get(name) is not None, name
    for name in ('LoadVideoFrames', 'LoadVideoAnnotations', 'LoadSyntheticFlow',
                 'VideoResize', 'VideoRandomCrop', 'VideoRandomFlip',
                 'VideoPhotoMetricDistortion', 'PackVideoSegInputs'):
        assert TRANSFORMS.get(name) is not None, name
    assert MODELS.get('VideoSegDataPreProcessor') is not None


BLOCK_NETWORK = '''
import socket
calls = []
def refuse(*args, **kwargs):
    calls.append(args)
    raise OSError('network access attempted during import')
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import mmseg_temporal
assert not calls, calls
print('imported', mmseg_temporal.__version__)
'''


def test_import_needs_no_network():
    out = subprocess.run([sys.executable, '-c', BLOCK_NETWORK],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'imported' in out.stdout


def test_mmengine_patches_are_the_listed_ones():
    """`import mmseg_temporal` changes MMEngine in exactly the ways that
    mmseg_temporal/utils/mmengine_patches.py lists (APPLIED), each in place."""
    from mmengine.fileio.backends import LocalBackend
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmseg_temporal.utils import checkpoint, mmengine_patches
    assert mmengine_patches.APPLIED == [
        'weights_only_checkpoint_loader', 'atomic_local_writes',
        'quiet_pkg_resources_warning']
    assert CheckpointLoader._schemes[''] is checkpoint.load_local_checkpoint
    for method in (LocalBackend.put, LocalBackend.put_text):
        assert method.__module__ == mmengine_patches.__name__
    mmengine_patches.apply_mmengine_patches()  # idempotent
    assert len(mmengine_patches.APPLIED) == 3


def _patches_in(path):
    """Lines of ``path`` with ``X.attr = ...``, ``setattr(X, ...)`` or
    ``register_scheme(...)`` on a name imported from mmengine, mmcv, mmseg
    or torch: what changes those libraries for the whole process."""
    import ast
    tree = ast.parse(path.read_text())
    foreign = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and \
                node.module.split('.')[0] in ('mmengine', 'mmcv', 'mmseg', 'torch'):
            foreign |= {a.asname or a.name for a in node.names}
    found = []
    for node in ast.walk(tree):
        for t in (node.targets if isinstance(node, ast.Assign) else []):
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) \
                    and t.value.id in foreign:
                found.append(node.lineno)
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, 'id', '')
            if name == 'register_scheme' or (
                    name == 'setattr' and node.args and
                    isinstance(node.args[0], ast.Name) and node.args[0].id in foreign):
                found.append(node.lineno)
    return sorted(found)


def test_no_patch_outside_the_one_place():
    from pathlib import Path

    from mmseg_temporal.utils import mmengine_patches
    root = Path(mmseg_temporal.__file__).parent
    one_place = Path(mmengine_patches.__file__)
    assert len(_patches_in(one_place)) == 3  # the check sees them
    elsewhere = {str(p.relative_to(root)): _patches_in(p)
                 for p in sorted(root.rglob('*.py')) if p != one_place}
    assert {k: v for k, v in elsewhere.items() if v} == {}


QUIET_PKG_RESOURCES = '''
import warnings
warnings.simplefilter('always')
{imports}
from mmengine.utils import is_installed
assert is_installed('mmengine')
'''


def test_pkg_resources_deprecation_warning_is_filtered():
    def stderr_of(imports):
        out = subprocess.run(
            [sys.executable, '-c', QUIET_PKG_RESOURCES.format(imports=imports)],
            capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stderr
    message = 'pkg_resources is deprecated as an API'
    if message not in stderr_of('import mmengine'):
        pytest.skip('this setuptools does not warn about pkg_resources')
    assert message not in stderr_of('import mmseg_temporal')
