"""mmseg_temporal.utils.image.read_rgb: the frame reader of the flow tools
and the TC metric."""
import cv2
import numpy as np
import pytest

from mmseg_temporal.utils.image import read_rgb


def test_reads_rgb_and_resizes(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[5:10, :, 2] = 90  # a blue band
    path = str(tmp_path / 'f.png')
    cv2.imwrite(path, rgb[..., ::-1])  # files hold BGR
    out = read_rgb(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, rgb)
    small = read_rgb(path, (10, 15))
    assert small.shape == (10, 15, 3)
    np.testing.assert_array_equal(
        small, cv2.resize(rgb, (15, 10), interpolation=cv2.INTER_LINEAR))


def test_missing_and_corrupt_files_are_named(tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        read_rgb(missing)
    for name, data in (('empty.png', b''), ('junk.png', b'not a png')):
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(ValueError, match=name):
            read_rgb(str(bad))
