"""The motion-consistency metric: MotionConsistencySegmentor predicts each
frame moved by seeded camera motions, MotionConsistencyMetric scores them
like TC over a fixed class set."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import METRICS, MODELS
from mmseg.structures import SegDataSample

import mmseg_temporal  # noqa: F401
from mmseg_temporal.evaluation.functional import motion_consistency

K = 5
CLASSES = tuple(f'c{i}' for i in range(K))
HW = (48, 64)
# colour prototypes of classes 0-3 (class 4 is never predicted)
PROTOS = torch.tensor([[0., 0., 0.], [255., 0., 0.], [0., 255., 0.],
                       [0., 0., 255.]])


@MODELS.register_module(force=True)
class ToyColourSegmentor(BaseSegmentor):
    """Per-pixel nearest colour prototype: translation-equivariant. With
    ``pool`` > 1 it classifies the mean colour of ``pool`` x ``pool``
    cells (stride ``pool``) and upsamples by nearest: positions rounded to
    a coarse grid, like an aliased strided network."""

    def __init__(self, pool=1, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.],
            bgr_to_rgb=False))
        self.pool = pool
        self.align_corners = False
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode_decode(self, inputs, batch_img_metas):
        x = inputs if self.pool == 1 else F.avg_pool2d(inputs, self.pool)
        d = ((x[:, None] - PROTOS.to(x)[None, :, :, None, None]) ** 2).sum(2)
        logits = torch.cat([-d, torch.full_like(d[:, :1], -1e9)], 1)
        return F.interpolate(logits, size=inputs.shape[-2:], mode='nearest')

    def predict(self, inputs, data_samples=None):
        return self.postprocess_result(self.encode_decode(inputs, None),
                                       data_samples)

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs, None)

    def extract_feat(self, inputs):
        return [inputs]

    def loss(self, inputs, data_samples):
        raise NotImplementedError


def block_image(seed, hw=HW, block=8):
    """uint8 (3, H, W) image of random prototype colours in blocks whose
    edges are off the 8-pixel grid, and its label (the class of each
    block; class 4 in one corner of the ground truth only)."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 4, (hw[0] // block + 2, hw[1] // block + 2))
    full = np.kron(cells, np.ones((block, block), int))
    off = rng.integers(1, block, 2)
    label = full[off[0]:off[0] + hw[0], off[1]:off[1] + hw[1]]
    img = PROTOS.numpy()[label].transpose(2, 0, 1).astype(np.uint8)
    label = label.copy()
    label[:4, :4] = 4
    return torch.from_numpy(img), torch.from_numpy(label[None])


def batch(seeds, hw=HW, ori=None, folder=None):
    """Frames (as the test pipeline gives them) and their samples; with
    ``ori`` the frames are files of that size in ``folder``, resized to
    ``hw`` (the wrapper moves the file at its own size)."""
    inputs, samples = [], []
    for s in seeds:
        img, label = block_image(s, ori or hw)
        path = f'frame_{s}.png'
        if ori is not None:  # the test pipeline resized the frame to hw
            path = str(folder / path)
            cv2.imwrite(path, img.permute(1, 2, 0).numpy())
            img = F.interpolate(img[None].float(), size=hw, mode='bilinear',
                                align_corners=False)[0].round().byte()
        sample = SegDataSample(metainfo=dict(
            img_path=path, ori_shape=ori or hw, img_shape=hw))
        sample.gt_sem_seg = PixelData(data=label)
        inputs.append(img)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def wrapper(pool=1, **kwargs):
    return MODELS.build(dict(type='MotionConsistencySegmentor',
                             segmentor=dict(type='ToyColourSegmentor', pool=pool),
                             **kwargs)).eval()


def score(model, seeds=range(4), classes=None, **batch_kwargs):
    metric = METRICS.build(dict(type='MotionConsistencyMetric', classes=classes))
    metric.dataset_meta = dict(classes=CLASSES)
    for s in seeds:  # the stock test loop: test_step, then process
        data = batch([s], **batch_kwargs)
        with torch.no_grad():
            metric.process(data, model.test_step(data))
    return metric.compute_metrics(metric.results), metric


def test_equivariant_model_scores_100_under_integer_shifts():
    model = wrapper(motion=dict(shift=0, rotation=0, zoom=0), shifts=(1, 2, 3, 8))
    metrics, metric = score(model)
    for k in (1, 2, 3, 8):
        assert metrics[f'mMC_shift{k}'] == pytest.approx(100 * 4 / 5)
        per_class = metric.last_result[f'shift{k}']['per_class']
        np.testing.assert_allclose(per_class[:4], 100)
        assert per_class[4] == 0  # in the ground truth, never predicted
    assert metrics['mMC'] == pytest.approx(80)  # no motion at all
    assert metrics['mMC_pred'] == pytest.approx(100)


def test_coarse_grid_model_scores_below_the_equivariant_one():
    shifts = (1, 3, 8)
    fine, _ = score(wrapper(shifts=shifts))
    coarse, _ = score(wrapper(pool=8, shifts=shifts))
    for key in ('mMC', 'mMC_shift1', 'mMC_shift3'):
        assert coarse[key] < fine[key] - 10, key
    # aliasing: a shift by one whole cell of its grid is harmless
    assert coarse['mMC_shift8'] == fine['mMC_shift8'] == pytest.approx(80)
    # the random motion (sub-pixel, rotation, zoom) costs the fine model
    # little: only at block edges
    assert fine['mMC_pred'] > 90


def test_original_prediction_is_the_wrapped_models_own():
    model = wrapper(pool=8)
    data = batch([0])
    with torch.no_grad():
        out = model.test_step(data)[0]
        own = model.segmentor.test_step(batch([0]))[0]
    assert torch.equal(out.pred_sem_seg.data, own.pred_sem_seg.data)
    m = 1 + len(model.shifts)
    assert out.motion_preds.shape == (m, *HW)
    assert out.motion_flows.shape == (m, 2, *HW)
    assert out.motion_valid.shape == (m, 1, *HW)
    assert out.motion_names == ['motion', 'shift0.5', 'shift1', 'shift2',
                                'shift3', 'shift4', 'shift8']


def test_fixed_class_set_scores_never_predicted_classes_zero():
    # ground-truth set (default): class 4 is in it and scores 0
    model = wrapper(shifts=(2,))
    metrics, metric = score(model)
    res = metric.last_result
    assert 'ground truth' in res['class_set']
    assert list(res['classes']) == [0, 1, 2, 3, 4]
    assert metrics['mMC_shift2'] == pytest.approx(80)
    # a given set (names or ids): classes outside it are NaN, not averaged
    metrics, metric = score(model, classes=['c1', 2])
    per_class = metric.last_result['shift2']['per_class']
    assert np.isnan(per_class[[0, 3, 4]]).all()
    assert metrics['mMC_shift2'] == pytest.approx(100)
    # the functional core: a set class with no union anywhere scores 0
    inter, union = np.array([5, 0, 3]), np.array([5, 0, 6])
    out = motion_consistency([[(inter, union)]], ['motion'], classes=[0, 1, 2],
                             predicted=[0, 2])
    np.testing.assert_allclose(out['motion']['per_class'], [100, 0, 50])
    assert out['motion']['mTC'] == pytest.approx(50)
    assert out['motion']['mTC_pred'] == pytest.approx(75)


def test_motions_are_seeded_per_frame_and_batch_independent():
    model = wrapper()
    meta = dict(ori_shape=HW, img_path='a.png')
    a = model.motions(meta, model._key(meta))
    b = wrapper().motions(meta, model._key(meta))
    assert a == b
    assert wrapper(seed=1).motions(meta, model._key(meta)) != a
    other = dict(meta, img_path='b.png')
    assert model.motions(other, model._key(other)) != a
    with torch.no_grad():
        together = model.test_step(batch([0, 1]))
        alone = [model.test_step(batch([s]))[0] for s in (0, 1)]
    for t, s in zip(together, alone):
        assert torch.equal(t.motion_flows, s.motion_flows)
        assert torch.equal(t.motion_preds, s.motion_preds)


def test_shifts_are_pixels_of_the_scored_resolution(tmp_path):
    """Frames resized to half by the test pipeline: the motion is given at
    the original size, where the predictions and the flow are, and the
    file is moved there, so an odd shift (half a pixel at the input) is the
    moved scene, not the input resampled (and blurred) at half a pixel."""
    model = wrapper(motion=dict(shift=0, rotation=0, zoom=0), shifts=(1, 2, 4))
    data = batch([0], hw=(24, 32), ori=HW, folder=tmp_path)
    with torch.no_grad():
        out = model.test_step(data)[0]
    assert out.pred_sem_seg.data.shape[-2:] == HW
    flows = out.motion_flows
    assert [flows[i].abs().amax().item() for i in (1, 2, 3)] == [1, 2, 4]
    metrics, _ = score(model, hw=(24, 32), ori=HW, folder=tmp_path)
    for k in (1, 2, 4):  # of 80: equivariant up to the resize
        assert metrics[f'mMC_shift{k}'] > 75, (k, metrics)


def test_a_resized_frame_needs_its_file(tmp_path):
    model = wrapper(motion=dict(shift=0, rotation=0, zoom=0), shifts=(1,))
    data = batch([0], hw=(24, 32), ori=HW, folder=tmp_path)
    data['data_samples'][0].set_metainfo(dict(img_path=str(tmp_path / 'gone.png')))
    with torch.no_grad(), pytest.raises(FileNotFoundError, match='gone.png'):
        model.test_step(data)


def test_sensor_nuisance_changes_only_the_moved_frame():
    plain = wrapper(motion=dict(shift=0, rotation=0, zoom=0), shifts=())
    noisy = wrapper(motion=dict(shift=0, rotation=0, zoom=0, noise_std=40,
                                jpeg_quality=30), shifts=())
    with torch.no_grad():
        a = plain.test_step(batch([0]))[0]
        b = noisy.test_step(batch([0]))[0]
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    assert torch.equal(a.motion_preds[0], a.pred_sem_seg.data[0])
    assert not torch.equal(b.motion_preds[0], b.pred_sem_seg.data[0])


def test_errors_name_the_fault():
    with pytest.raises(ValueError, match=r"unknown motion key\(s\) \['shfit'\]"):
        wrapper(motion=dict(shfit=3))
    with pytest.raises(ValueError, match='rotation must be >= 0'):
        wrapper(motion=dict(rotation=-1))
    with pytest.raises(ValueError, match='shifts must be > 0'):
        wrapper(shifts=(0,))
    metric = METRICS.build(dict(type='MotionConsistencyMetric'))
    metric.dataset_meta = dict(classes=CLASSES)
    plain = MODELS.build(dict(type='ToyColourSegmentor')).eval()
    with torch.no_grad(), pytest.raises(KeyError, match=r'frame_0\.png has no.*'
                                        'MotionConsistencySegmentor'):
        metric.process({}, plain.test_step(batch([0])))
    with pytest.raises(RuntimeError, match='test-time wrapper'):
        wrapper().loss(None, None)
    with pytest.raises(ValueError, match="classes names 'road', not one of"):
        score(wrapper(shifts=()), seeds=[0], classes=['road'])
    with pytest.raises(ValueError, match=r'ids outside \[0, 5\): \[7\]'):
        score(wrapper(shifts=()), seeds=[0], classes=[7])


def test_wrapped_checkpoint_loads_with_its_own_keys():
    from mmengine.runner.checkpoint import load_state_dict
    model = wrapper()
    inner = {'dummy': torch.ones(1)}
    load_state_dict(model, inner, strict=True)
    assert model.segmentor.dummy.item() == 1
    assert model.checkpoint_keys(inner) == {'segmentor.dummy': inner['dummy']}


def test_a_resized_frame_is_moved_at_its_files_size(tmp_path):
    """The moved input is the file moved at ``ori_shape`` and then resized,
    not the resized input resampled at a sub-pixel offset (which blurs)."""
    import mmcv

    from mmseg_temporal.flow.camera_motion import move_frame
    model = wrapper(motion=dict(shift=0, rotation=0, zoom=0), shifts=(1,))
    seen = []
    toy_predict = model.segmentor.predict
    model.segmentor.predict = lambda x, s: seen.append(x.clone()) or toy_predict(x, s)
    data = batch([0], hw=(24, 32), ori=HW, folder=tmp_path)
    with torch.no_grad():
        model.test_step(data)
    meta = data['data_samples'][0].metainfo
    _, motion, _ = model.motions(meta, model._key(meta))[1]  # the 1 px shift
    frame = torch.from_numpy(cv2.imread(meta['img_path'])).permute(2, 0, 1)[None].float()
    moved = move_frame(frame, motion.matrix(HW)).img[0].round().byte()
    want = mmcv.imresize(moved.permute(1, 2, 0).numpy(), (32, 24), interpolation='bilinear')
    got = seen[-1][0].permute(1, 2, 0).numpy()
    assert np.allclose(got, want, atol=1e-4)
    resampled = move_frame(seen[0].float(), motion.matrix((24, 32))).img[0]
    assert not np.allclose(resampled.permute(1, 2, 0).numpy(), want, atol=1)
