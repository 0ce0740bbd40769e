"""`import mmseg_temporal`: registers everything, no network."""
import subprocess
import sys

import mmseg_temporal


def test_version():
    assert isinstance(mmseg_temporal.__version__, str)
    assert mmseg_temporal.__version__.count('.') == 2


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
