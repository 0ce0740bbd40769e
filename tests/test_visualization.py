"""mmseg_temporal.visualization: overlays, legend, frame index, upscaling and
the one TC-curve plotter (no global Matplotlib backend switch); the package
stays just above utils in the layering."""
import ast
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmseg_temporal.visualization import (
    default_palette,
    draw_frame_index,
    legend_strip,
    overlay_prediction,
    palette_from_meta,
    plot_tc_curve,
    side_by_side,
    upscale_to,
)

PKG = Path(__file__).resolve().parents[1] / 'mmseg_temporal' / 'visualization'
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_imports_only_utils_numpy_cv2_matplotlib():
    allowed = {'contextlib', 'cv2', 'numpy', 'matplotlib', 'io', 'os', 'queue', 'logging',
               'fractions', 'av',  # PyAV: the optional H.264 writer, imported lazily
               'sys', 'tempfile', 'threading', 'typing'}
    for f in PKG.glob('*.py'):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: only inside the package or utils
                    assert node.level == 1 or (node.module or '').startswith(
                        'utils'), (f, node.module)
                    continue
                mods = [node.module]
            else:
                continue
            for m in mods:
                assert m.split('.')[0] in allowed, (f.name, m)


def test_overlay_colours_and_name():
    frame = np.zeros((40, 60, 3), np.uint8)
    label = np.zeros((40, 60), np.int64)
    label[:, 30:] = 1
    label[0, 0] = 255  # outside the palette: left uncoloured
    pal = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)  # RGB
    out = overlay_prediction(frame, label, pal, alpha=1.0)
    assert tuple(out[20, 10]) == (0, 0, 255)  # BGR of red
    assert tuple(out[20, 50]) == (255, 0, 0)  # BGR of blue
    assert tuple(out[0, 0]) == (0, 0, 0)
    half = overlay_prediction(np.full_like(frame, 100), label, pal, alpha=0.5)
    assert abs(int(half[20, 10, 2]) - (255 + 100) // 2) <= 1
    named = overlay_prediction(frame, label, pal, alpha=1.0, name='ETC')
    assert not np.array_equal(named[:15, :30], out[:15, :30])
    assert np.array_equal(named[30:], out[30:])
    with pytest.raises(ValueError, match='does not match'):
        overlay_prediction(frame, label[:10], pal)


def test_overlay_matches_a_per_pixel_blend():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    pal = rng.integers(0, 256, (7, 3), dtype=np.uint8)
    for label in (rng.integers(0, 7, (24, 32)),  # every pixel coloured
                  np.where(rng.random((24, 32)) < 0.2, 255,
                           rng.integers(0, 7, (24, 32)))):
        out = overlay_prediction(frame, label, pal, alpha=0.3)
        for y, x in ((0, 0), (5, 7), (23, 31), (12, 20)):
            k = label[y, x]
            want = frame[y, x] if k == 255 else \
                0.3 * pal[k][::-1].astype(float) + 0.7 * frame[y, x]
            assert np.abs(out[y, x].astype(float) - want).max() <= 1


def test_side_by_side_and_upscale():
    a = np.zeros((10, 4, 3), np.uint8)
    b = np.full((10, 6, 3), 7, np.uint8)
    both = side_by_side([a, b], gap=2)
    assert both.shape == (10, 12, 3)
    assert (both[:, 4:6] == 255).all() and (both[:, 6:] == 7).all()
    with pytest.raises(ValueError, match='height'):
        side_by_side([a, b[:5]])
    img = np.arange(96 * 128 * 3, dtype=np.uint8).reshape(96, 128, 3)
    big = upscale_to(img, 360)  # factor ceil(360 / 96) = 4, nearest
    assert big.shape == (384, 512, 3)
    assert np.array_equal(big[::4, ::4], img)
    assert upscale_to(img, 64) is img


def test_legend_has_every_class_colour_and_wraps():
    pal = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    strip = legend_strip(['sky', 'road', 'car'], pal, width=400)
    assert strip.shape[1] == 400
    for rgb in pal:
        bgr = rgb[::-1]
        assert (strip == bgr).all(axis=-1).sum() > 20, rgb
    narrow = legend_strip(['sky', 'road', 'car'], pal, width=80)
    assert narrow.shape[0] > strip.shape[0]  # wrapped onto more rows
    with pytest.raises(ValueError, match='colours'):
        legend_strip(['a', 'b'], pal[:1], width=100)


def test_frame_index_drawn_top_right():
    img = np.zeros((96, 256, 3), np.uint8)
    out = draw_frame_index(img, 7, 20)
    assert out[:20, -60:].any() and not out[:, :100].any()
    assert not img.any()  # a copy


def test_palettes():
    assert np.array_equal(default_palette(5), default_palette(5))
    meta = dict(palette=[[1, 2, 3], [4, 5, 6]])
    assert palette_from_meta(meta, 2).tolist() == [[1, 2, 3], [4, 5, 6]]
    # too few colours in the meta: the fixed palette
    assert np.array_equal(palette_from_meta(meta, 3), default_palette(3))
    assert np.array_equal(palette_from_meta(None, 3), default_palette(3))


def test_tc_curve_png_without_backend_switch(tmp_path):
    import matplotlib
    backend = matplotlib.get_backend()
    out = tmp_path / 'sub' / 'tc.png'
    curves = dict(a=np.array([80., np.nan, 90.]), b=np.array([50., 60.]))
    ret = plot_tc_curve(curves, str(out), means=dict(a=85., b=55.),
                        frame_indices=dict(a=[0, 1, 2], b=[5, 6]),
                        overall_mtc=70., title='t')
    assert ret == str(out) and out.read_bytes()[:8] == PNG_MAGIC
    img = cv2.imread(str(out))
    assert img.shape == (400, 800, 3)
    assert matplotlib.get_backend() == backend
    import sys
    if 'matplotlib.pyplot' in sys.modules:
        import matplotlib.pyplot as plt
        assert not plt.get_fignums()
    with pytest.raises(ValueError, match="curve 'a'"):
        plot_tc_curve(dict(a=[1., 2.]), str(out), frame_indices=dict(a=[0]))


def test_legend_names_what_its_mean_is():
    """The demo's legend shows each curve's own mean, labelled as such (its
    points average the classes present in each pair; mTC pools over pairs)."""
    from mmseg_temporal.visualization.tc_curve import _legend_label
    assert _legend_label('etc', 87.25) == 'etc (mTC 87.2%)'
    assert _legend_label('etc', 87.25, 'mean of curve') == 'etc (mean of curve 87.2%)'
    assert _legend_label('etc', float('nan'), 'mean of curve') == 'etc (mean of curve n/a)'
    assert _legend_label('etc', None) == 'etc'


def test_plot_scatter_writes_a_png_and_needs_two_points(tmp_path):
    from mmseg_temporal.visualization import plot_scatter
    out = plot_scatter({'plain': [(40.0, 41.0), (42.0, 43.5)], 'aa': [(47.0, 48.0)]},
                       str(tmp_path / 'sub' / 'scatter.png'), 'x', 'y', title='t')
    data = open(out, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    img = cv2.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 300
    with pytest.raises(ValueError, match='at least two'):
        plot_scatter({'a': [(1.0, 2.0)]}, str(tmp_path / 'x.png'), 'x', 'y')
