"""Shared fixtures: paths to ../shared data, a rendered synthetic video."""
import os
from pathlib import Path

import pytest
import torch
from mmseg.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / 'shared'
CAMVID = SHARED / 'data' / 'camvid'

# Datasets built outside a Runner look transforms up in the default scope.
register_all_modules(init_default_scope=True)



@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Every test starts in MMSeg's default scope: a Runner built by an
    earlier test without ``default_scope`` makes ``mmengine`` the current
    scope, and MMSeg's registries then look names up in MMEngine's."""
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmseg':
        DefaultScope.get_instance(f'mmseg_test_{id(current)}_{len(DefaultScope._instance_dict)}',
                                  scope_name='mmseg')
    yield


# Two cores are all there is: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


def require(path: Path, what: str) -> Path:
    """Skips the test, naming the path, when a shared fixture is absent."""
    if not path.exists():
        pytest.skip(f'{what} not found at {path} (expected ../shared beside '
                    'the repository)')
    return path


@pytest.fixture(scope='session')
def camvid_root() -> Path:
    return require(CAMVID, 'CamVid data')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """A folder where the synthetic video gets rendered once per session."""
    return str(tmp_path_factory.mktemp('synthetic_video'))


@pytest.fixture(scope='session')
def default_synthetic_root(tmp_path_factory) -> str:
    """A folder for the synthetic video with the configs' default parameters
    (96x128, 20 frames a video)."""
    return str(tmp_path_factory.mktemp('synthetic_video_default'))


def data_cfg_options(root: str) -> list:
    """``--cfg-options`` pointing every dataloader of a synthetic config at
    ``root``, without worker processes (fast, deterministic)."""
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.dataset.data_root={root}', f'{key}.num_workers=0',
                 f'{key}.persistent_workers=False']
    return opts
