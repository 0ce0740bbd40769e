"""Seeded causes of flicker of the synthetic video (off by default)."""
import numpy as np
import pytest

from mmseg_temporal.datasets.synthetic_nuisance import SyntheticNuisance
from mmseg_temporal.datasets.synthetic_video import SyntheticVideoGenerator

ALL = dict(appearance_overlap=0.6, small_objects=(2, 4), noise_std=6.0,
           lighting_drift=0.15, jpeg_quality=60)


def test_off_by_default_and_the_clean_manifest_is_unchanged():
    clean = SyntheticVideoGenerator()
    assert 'nuisance' not in clean.params()
    assert 'nuisance' not in SyntheticVideoGenerator(nuisance={}).params()
    a = clean.render(3, 6)
    b = SyntheticVideoGenerator(nuisance=dict(noise_std=0.0)).render(3, 6)
    np.testing.assert_array_equal(a['imgs'], b['imgs'])
    assert SyntheticVideoGenerator(nuisance=ALL).params()['nuisance'] == dict(
        ALL, small_objects=[2, 4])


def test_deterministic_and_new_noise_every_frame():
    g = SyntheticVideoGenerator(nuisance=dict(noise_std=8.0))
    a, b = g.render(1, 4), SyntheticVideoGenerator(nuisance=dict(noise_std=8.0)).render(1, 4)
    np.testing.assert_array_equal(a['imgs'], b['imgs'])
    clean = SyntheticVideoGenerator().render(1, 4)['imgs'].astype(float)
    noise = a['imgs'].astype(float) - clean
    assert 6.0 < noise[0].std() < 9.0  # about noise_std (less where clipped)
    assert not np.allclose(noise[0], noise[1])
    np.testing.assert_array_equal(a['labels'], SyntheticVideoGenerator().render(1, 4)['labels'])


def test_small_objects_are_added_in_front_and_the_others_stay():
    clean = SyntheticVideoGenerator().scene(5, 10)['objects']
    more = SyntheticVideoGenerator(nuisance=dict(small_objects=(3, 3))).scene(5, 10)['objects']
    assert more[:len(clean)] == clean and len(more) == len(clean) + 3
    for obj in more[len(clean):]:
        assert 3 <= obj['size'][0] < 96 // 12 and 3 <= obj['size'][1] < 128 // 12


def test_full_overlap_gives_one_colour_and_lighting_moves_the_mean():
    n = SyntheticNuisance(dict(appearance_overlap=1.0))
    colours = n.colours(np.array([[0., 0, 0], [200, 100, 50]]))
    np.testing.assert_allclose(colours, [[100, 50, 25]] * 2)
    g = SyntheticVideoGenerator(nuisance=dict(lighting_drift=0.3))
    means = g.render(2, 12)['imgs'].reshape(12, -1).mean(1)
    assert means.max() - means.min() > 20


def test_jpeg_changes_pixels_but_not_labels():
    clean = SyntheticVideoGenerator().render(0, 2)
    jpeg = SyntheticVideoGenerator(nuisance=dict(jpeg_quality=30)).render(0, 2)
    assert np.abs(jpeg['imgs'].astype(int) - clean['imgs']).mean() > 1
    np.testing.assert_array_equal(jpeg['labels'], clean['labels'])


@pytest.mark.parametrize('bad, key', [
    (dict(overlap=0.5), 'overlap'), (dict(appearance_overlap=1.5), 'appearance_overlap'),
    (dict(small_objects=(3, 1)), 'small_objects'), (dict(jpeg_quality=101), 'jpeg_quality'),
    (dict(noise_std=-1), 'noise_std'), (dict(lighting_drift=1.0), 'lighting_drift')])
def test_bad_options_name_the_key(bad, key):
    with pytest.raises(ValueError, match=key):
        SyntheticNuisance(bad)


def test_dataset_passes_the_options_and_refuses_another_set(tmp_path):
    from mmseg_temporal.datasets import SyntheticVideoDataset
    kw = dict(data_root=str(tmp_path), split='val', num_videos=1,
              frames_per_video=3, height=32, width=32, label_start=0,
              sample_mode='sequence', pipeline=[])
    ds = SyntheticVideoDataset(nuisance=dict(noise_std=4.0), **kw)
    assert ds.generator.nuisance.noise_std == 4.0
    with pytest.raises(Exception, match='nuisance'):
        SyntheticVideoDataset(nuisance=dict(noise_std=5.0), **kw)


def test_configs_default_is_camvid_like_and_the_clean_base_renders_the_clean_video(tmp_path):
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    base = 'configs/_base_/datasets/synthetic_video'
    default = Config.fromfile(base + '.py')
    assert default.test_dataloader.dataset.nuisance['small_objects'] == (10, 20)
    clean = Config.fromfile(base + '_clean.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert clean[key].dataset.nuisance is None
        assert clean[key].dataset.data_root == 'data/synthetic_video'
    ds = DATASETS.build(dict(clean.test_dataloader.dataset.to_dict(), data_root=str(tmp_path),
                             num_videos=1, frames_per_video=2, pipeline=[]))
    assert ds.generator.params() == SyntheticVideoGenerator().params()
