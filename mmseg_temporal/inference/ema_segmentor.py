"""The smoothing baseline in the stock test loop: any per-frame segmentor
with its logits averaged over time (an exponential moving average).

EMA over a per-frame model's logits is what MMSeg users reach for against
flicker instead of a temporally consistent model; wrapping the model lets
``tools/test.py`` score it with the same metrics (mIoU, fixed-class TC,
VC_n) as the students it competes with::

    model = dict(type='EMASmoothedSegmentor', alpha=0.5,
                 segmentor=<the model config of the checkpoint>)

and the checkpoint of the wrapped model loads as it is (its keys gain the
``segmentor.`` prefix on load). With ``motion=<flow source>`` the past is
warped onto each frame before blending (motion-compensated EMA,
:func:`~mmseg_temporal.inference.smoothing.ema_step`).
"""
from typing import Callable, Optional, Union

import torch
from mmengine.dist import get_world_size
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from torch import Tensor

from ..flow.sources.base import build_flow_source
from ..models.segmentors.test_time_wrapper import TestTimeWrapper
from ..utils.image import read_rgb
from .smoothing import EMASmoother, flow_at_logits

__all__ = ['EMASmoothedSegmentor']


@MODELS.register_module()
class EMASmoothedSegmentor(TestTimeWrapper):
    """``segmentor`` whose ``predict`` returns the labels of EMA-smoothed
    logits ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t``
    (:class:`~mmseg_temporal.inference.smoothing.EMASmoother`), one
    frame after another in the order the test loop feeds them.

    The smoothing starts again (``s_t = z_t``) whenever a frame does not
    follow the previous one: another ``seq_name``, a ``frame_index`` that is
    not the previous one plus 1 (both from ``PackSequenceSegInputs``), or
    another logit shape. Frames without those keys count as one stream.
    The logits are smoothed at the model's input resolution, before MMSeg's
    ``postprocess_result`` crops the padding and resizes to the original
    frame. It is a test-time model: ``loss`` refuses, and it needs the
    frames in order, so one process (a distributed sampler interleaves
    them).

    With ``motion``, each frame's ``img_path`` (metainfo) and the previous
    frame's go to the flow source as ``source(path_t, path_t-1, img_t,
    img_t-1)`` (RGB arrays read from the files, at their size): the flow
    from the current frame to the previous one, resized to the logits
    (padding: invalid), warps the past before blending; invalid pixels
    take the current logits.

    Args:
        segmentor: config of the per-frame model (e.g. an ``EncoderDecoder``,
            or a ``TemporalDistillSegmentor``, whose student predicts).
        alpha: weight of the past, in ``[0, 1)``; 0 is the model itself.
        motion: a flow source for motion compensation (anything
            :func:`~mmseg_temporal.flow.sources.build_flow_source` takes:
            ``dict(type='DISFlow', preset='fast')``,
            ``dict(type='SyntheticExactFlow')``, a callable); ``None``:
            plain EMA.
        data_preprocessor: default: the wrapped model's.
    """

    def __init__(self, segmentor: dict, alpha: float,
                 motion: Optional[Union[dict, Callable]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg)
        self.smoother = EMASmoother(alpha)
        self.motion = None if motion is None else build_flow_source(motion)
        self._last = None  # (seq_name, frame_index, shape) of the last frame
        self._prev_frame = None  # (img_path, RGB image) of the last frame

    @property
    def frame_model(self) -> BaseSegmentor:
        """The model that predicts one frame: a distillation wrapper's
        student, else the wrapped segmentor."""
        return getattr(self.segmentor, 'student', self.segmentor)

    def _follows(self, meta: dict, shape) -> bool:
        key = (meta.get('seq_name'), meta.get('frame_index'), tuple(shape))
        last, self._last = self._last, key
        if last is None or last[0] != key[0] or last[2] != key[2]:
            return False
        return key[1] is None or last[1] is None or key[1] == last[1] + 1

    def _motion(self, meta: dict, logits: Tensor, follows: bool):
        """``(flow, valid)`` from this frame to the previous one at the
        logits' size, or ``(None, None)`` (no motion source or no past)."""
        if self.motion is None or self.smoother.alpha == 0.:
            return None, None
        path = meta.get('img_path')
        if path is None:
            raise KeyError('EMASmoothedSegmentor(motion=...) needs each '
                           "frame's `img_path` in its metainfo")
        if meta.get('flip'):
            raise ValueError(f'EMASmoothedSegmentor(motion=...): {path} is '
                             'flipped by the test pipeline; flow is not')
        prev, img = self._prev_frame, read_rgb(path)
        self._prev_frame = (path, img)
        if not follows or prev is None:
            return None, None
        flow, valid = self.motion(path, prev[0], img, prev[1])
        return flow_at_logits(flow, valid, logits.shape[-2:],
                              meta.get('padding_size') or [0] * 4)

    def predict(self, inputs: Tensor, data_samples=None):
        if get_world_size() > 1:
            raise RuntimeError('EMASmoothedSegmentor needs the frames of a video '
                               'in order: test it in one process')
        model = self.frame_model
        metas = [s.metainfo for s in data_samples] if data_samples else [
            dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                 pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
        ] * inputs.shape[0]
        logits = model.inference(inputs, metas)
        smoothed = []
        for meta, frame_logits in zip(metas, logits):
            follows = self._follows(meta, frame_logits.shape)
            if not follows:
                self.smoother.reset()
            flow, valid = self._motion(meta, frame_logits, follows)
            smoothed.append(self.smoother(frame_logits, flow, valid).clone())
        return model.postprocess_result(torch.stack(smoothed), data_samples)
