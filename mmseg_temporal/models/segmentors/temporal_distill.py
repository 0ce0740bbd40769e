"""TemporalDistillSegmentor: the student, a frozen teacher, a frozen flow.

Training (paper Eq. 3) on a clip of ``num_frames`` frames (a triplet
``f, l, b``), in MMRazor's distillation shape::

    clip forward    student (and teacher, no grad) over every frame, logits
                    and features (B, T, ...) read by scoped recorders
    task losses     the student's decode head loss on the labelled frames
                    (``decode.loss_ce``, ``decode.acc_seg``) and its
                    auxiliary heads (``aux.loss_ce``), MMSeg's own keys
    distill losses  the term table of ``distill_terms.py``: SF (pixel-wise,
                    pair-wise) per frame, TL and PF per consecutive pair, MF
                    per clip; each scaled by its loss's ``loss_weight`` (the
                    paper's lambda = 0.1 is set there, see
                    ``configs/_base_/etc_losses.py``)

Flow comes from the data (``data_samples[i].flows``: exact synthetic flow,
precomputed or cached flow) or, when the data has none, from the frozen
``flow`` estimator on the un-normalised frames.

Inference (``predict``, ``_forward``, ``encode_decode``) runs the student
alone, one frame at a time: the stock test loop, MMSeg's benchmark and the
inference API work unchanged, and ``tools/export_student.py`` writes the
student (the ``student.`` weights) as a plain MMSeg model.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor, nn

from ...flow.ops import forward_backward_valid
from ...utils.errors import ConfigError
from ..losses.base import assert_finite
from .distill_terms import (
    DISTILL_TERMS,
    ClipForward,
    DistillInputs,
    check_loss_configs,
    compute_distill_losses,
    fb_check_options,
    pad_valid_mask,
    term_steps,
)
from .recorder import ModuleInputsRecorder, pre_dropout_feature
from .teacher import build_frozen_teacher

__all__ = ['TemporalDistillSegmentor']

_FROZEN = ('teacher', 'flow')


@MODELS.register_module()
class TemporalDistillSegmentor(BaseSegmentor):
    """Per-frame student trained for temporal consistency (ETC).

    Args:
        student: any MMSeg ``EncoderDecoder`` config; its
            ``data_preprocessor`` is used when ``data_preprocessor`` is not
            given.
        teacher: ``None`` or ``dict(config=PATH_OR_DICT, checkpoint=PATH)``:
            any MMSeg segmentor (or a TemporalDistillSegmentor config: its
            student), frozen in eval mode, loaded once here and never saved
            in this model's checkpoints.
        flow: a registered flow estimator config used when the data brings
            no flow (``None``: the data must bring it whenever TL is on).
        flow_fb_check: with online flow, also estimate the flow backwards
            and keep, as ``flow_valid``, only the pixels that pass the
            forward-backward check (``True`` or the ``alpha`` / ``beta`` of
            :func:`~mmseg_temporal.flow.ops.forward_backward_valid`);
            flow from the data brings its own ``flow_valid``.
        losses: ``dict`` with any of the keys of ``DISTILL_TERMS`` (``tl``,
            ``sf_pixel``, ``sf_pair``, ``pf``, ``mf``), each a registered
            loss config (missing or ``None``: off). Each loss's
            ``loss_weight`` is its weight in the total.
        student_feature, teacher_feature: name of the module whose *input*
            is the feature map for SF pair-wise and MF; ``None`` (default):
            the decode head's features before dropout (the input of
            ``decode_head.dropout``, or of ``decode_head.conv_seg`` for a
            head without dropout). ``'decode_head.conv_seg'`` reads them
            after dropout.
        data_preprocessor: a :class:`VideoSegDataPreProcessor` config.
        train_cfg, test_cfg: unused (the student's own are used); accepted
            because MMSeg's ``init_model`` sets them.
        pretrained: must be ``None`` (``init_model`` passes it).
    """

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 flow: Optional[dict] = None,
                 flow_fb_check: Union[bool, dict] = False,
                 losses: Optional[dict] = None,
                 student_feature: Optional[str] = None,
                 teacher_feature: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None) -> None:
        if pretrained is not None:
            raise ValueError('set pretrained weights on the student '
                             '(student.pretrained or its init_cfg), not on '
                             'the TemporalDistillSegmentor')
        student = copy.deepcopy(dict(student))
        student_pre = student.pop('data_preprocessor', None)
        super().__init__(data_preprocessor=data_preprocessor or student_pre,
                         init_cfg=init_cfg)
        self.student = MODELS.build(student)
        # the rest on a forked random stream: the student's init_weights and
        # training draws are those of the same student with other terms (a
        # paired arm with a teacher or MF starts where its control starts)
        with torch.random.fork_rng(devices=[]):
            self.losses = self._build_losses(losses or {})
            self.teacher = self._build_teacher(teacher)
            self.flow = MODELS.build(flow) if flow is not None else None
        self.flow_fb_check = fb_check_options(flow_fb_check)
        self.student_recorder = ModuleInputsRecorder(
            self.student, student_feature or pre_dropout_feature(self.student),
            'student')
        self.teacher_recorder = None if self.teacher is None else \
            ModuleInputsRecorder(
                self.teacher,
                teacher_feature or pre_dropout_feature(self.teacher),
                'teacher')
        self._register_state_dict_hook(self._drop_frozen_state)
        self._register_load_state_dict_pre_hook(self._fill_frozen_state,
                                                with_module=True)

    # ------------------------------------------------------------------
    # Construction
    # ------------------------------------------------------------------
    @staticmethod
    def _build_losses(cfgs: dict) -> nn.ModuleDict:
        """The loss modules, their configs checked first
        (:func:`~.distill_terms.check_loss_configs`)."""
        losses = nn.ModuleDict({k: MODELS.build(v) for k, v in
                                check_loss_configs(cfgs).items()})
        for loss in losses.values():
            # The segmentor checks all its losses at once (assert_finite).
            if hasattr(loss, 'check_finite'):
                loss.check_finite = False
        return losses

    def _build_teacher(self, cfg: Optional[dict]) -> Optional[nn.Module]:
        needs = sorted(k for k in self.losses if DISTILL_TERMS[k].needs_teacher)
        if cfg is None and needs:
            raise ConfigError(f'model.teacher: the losses {needs} need a teacher '
                              '(dict(config=..., checkpoint=...)); got None')
        return None if cfg is None else build_frozen_teacher(cfg, self.student)

    @staticmethod
    def _drop_frozen_state(module, state_dict, prefix, local_metadata):
        for k in [k for k in state_dict
                  if k.startswith(tuple(prefix + f + '.' for f in _FROZEN))]:
            del state_dict[k]
        return state_dict

    def _fill_frozen_state(self, module, state_dict, prefix, *args) -> None:
        # Checkpoints hold no teacher/flow weights: keep the loaded ones.
        for name in _FROZEN:
            sub = getattr(self, name)
            if sub is None:
                continue
            for k, v in sub.state_dict().items():
                state_dict.setdefault(f'{prefix}{name}.{k}', v)

    def train(self, mode: bool = True) -> 'TemporalDistillSegmentor':
        super().train(mode)
        for name in _FROZEN:
            sub = getattr(self, name)
            if sub is not None:
                sub.eval()
        return self

    # ------------------------------------------------------------------
    # Inference: the student alone, per frame
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        return self.student.extract_feat(inputs)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.student.encode_decode(inputs, batch_img_metas)

    @staticmethod
    def _label_index(data_samples, batch: int, device) -> Tensor:
        idx = [s.metainfo.get('label_index', 0) for s in data_samples] \
            if data_samples else [0] * batch
        return torch.tensor(idx, device=device)

    def _labelled_frames(self, inputs: Tensor, data_samples) -> Tensor:
        if inputs.dim() != 5:
            return inputs
        b = inputs.shape[0]
        return inputs[torch.arange(b, device=inputs.device),
                      self._label_index(data_samples, b, inputs.device)]

    def predict(self, inputs: Tensor, data_samples=None):
        """Student prediction of single frames ``(B, 3, H, W)`` (a video
        input ``(B, T, 3, H, W)`` predicts its labelled frame)."""
        return self.student.predict(
            self._labelled_frames(inputs, data_samples), data_samples)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        return self.student._forward(
            self._labelled_frames(inputs, data_samples), data_samples)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Losses of a batch of clips ``(B, T, 3, H, W)`` (or of single
        labelled frames ``(B, 3, H, W)``: the frame terms only)."""
        clip = inputs[:, None] if inputs.dim() == 4 else inputs
        num_frames = clip.shape[1]
        active = [k for k in self.losses
                  if term_steps(DISTILL_TERMS[k].granularity, num_frames)]
        student = self.forward_clip(self.student, self.student_recorder, clip)
        losses = self._task_losses(student, data_samples, num_frames)
        if active:
            teacher = None
            if any(DISTILL_TERMS[k].needs_teacher for k in active):
                with torch.no_grad():
                    teacher = self.forward_clip(self.teacher,
                                                self.teacher_recorder, clip)
            distill_inputs = self._distill_inputs(
                clip, data_samples, student, teacher,
                any(DISTILL_TERMS[k].needs_flow for k in active))
            losses.update(compute_distill_losses(
                self.losses, distill_inputs, num_frames))
        assert_finite({k: v for k, v in losses.items() if 'loss' in k})
        return losses

    @staticmethod
    def forward_clip(model: nn.Module, recorder: ModuleInputsRecorder,
                     clip: Tensor) -> ClipForward:
        """``model``'s backbone and decode head over every frame of ``clip``
        ``(B, T, 3, H, W)`` in one batch of ``B * T`` frames."""
        b, num_frames = clip.shape[:2]
        with recorder:
            feats = model.extract_feat(clip.flatten(0, 1))
            logits = model.decode_head(feats)
        return ClipForward(feats=feats,
                           logits=logits.unflatten(0, (b, num_frames)),
                           features=recorder.pop().unflatten(0, (b, num_frames)))

    def _task_losses(self, student: ClipForward, data_samples,
                     num_frames: int) -> Dict[str, Tensor]:
        """The student's own losses on its labelled frames, under MMSeg's
        keys. The decode head already ran on every frame of the clip, so its
        labelled rows are scored with the head's ``loss_by_feat`` under the
        ``decode.`` prefix, which is what ``_decode_head_forward_train``
        does after running the head a second time; the auxiliary heads run
        on the labelled frames only, through the student's
        ``_auxiliary_head_forward_train``."""
        b = student.logits.shape[0]
        device = student.logits.device
        rows = torch.arange(b, device=device) * num_frames
        if num_frames > 1:  # single frames (B, 3, H, W) are the labelled ones
            rows = rows + self._label_index(data_samples, b, device)
        head = self.student.decode_head
        losses = add_prefix(head.loss_by_feat(
            student.logits.flatten(0, 1)[rows], data_samples), 'decode')
        if self.student.with_auxiliary_head:
            losses.update(self.student._auxiliary_head_forward_train(
                [f[rows] for f in student.feats], data_samples))
        return losses

    def _distill_inputs(self, clip: Tensor, data_samples,
                        student: ClipForward, teacher: Optional[ClipForward],
                        needs_flow: bool) -> DistillInputs:
        images = self.data_preprocessor.unnormalize(clip)
        inputs = DistillInputs(
            student=student, teacher=teacher, images=images,
            pad_valid=pad_valid_mask(data_samples, clip.shape[-2:],
                                     clip.device))
        if needs_flow:
            inputs.flows, inputs.flow_valid = self._flows(images, data_samples)
        return inputs

    def _flows(self, images: Tensor, data_samples):
        """Flows ``t -> t+1`` ``(B, T-1, 2, H, W)`` and their validity
        ``(B, T-1, 1, H, W)``: the data's, else the flow estimator's."""
        if data_samples and 'flows' in data_samples[0]:
            flows = torch.stack([s.flows for s in data_samples]).to(images)
            valid = torch.stack([s.flow_valid for s in data_samples])
            return flows, valid.to(images.device)
        if self.flow is None:
            raise ConfigError(
                'model.losses.tl needs flow: the data samples have no `flows` '
                '(add a flow loading step such as LoadPrecomputedFlow to the '
                'train pipeline) and model.flow is None (set an estimator, '
                "e.g. dict(type='DISFlow'))")
        b, num_frames = images.shape[:2]
        flows = torch.stack([self.flow(images[:, a], images[:, a + 1])
                             for a in range(num_frames - 1)], dim=1)
        if self.flow_fb_check is None:
            valid = torch.ones((b, num_frames - 1, 1, *images.shape[-2:]),
                               dtype=torch.bool, device=images.device)
            return flows, valid
        backward = torch.stack([self.flow(images[:, a + 1], images[:, a])
                                for a in range(num_frames - 1)], dim=1)
        valid = forward_backward_valid(flows.flatten(0, 1),
                                       backward.flatten(0, 1),
                                       **self.flow_fb_check)
        return flows, valid.view(b, num_frames - 1, 1, *images.shape[-2:])
