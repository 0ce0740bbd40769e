"""TemporalDistillSegmentor: the student, a frozen teacher, a frozen flow.

Training (paper Eq. 3) on a clip of ``T`` frames (a triplet ``f, l, b``)::

    loss = CE(labelled frame)
         + lambda * (SF + TL + PF + MF)

* CE: the student's own decode (and auxiliary) head losses on the labelled
  frame only, logged as ``loss_ce`` (``aux.loss_ce``) and ``acc_seg``.
* SF: pixel-wise KD (``loss_sf_pixel``) and pair-wise KD on features
  (``loss_sf_pair``), on every frame, averaged over frames.
* TL: temporal loss on every consecutive pair ``(t, t+1)`` of the clip with
  the flow ``t -> t+1`` (``loss_tl``), averaged over pairs.
* PF: pair-wise-frame dependency on every consecutive pair (``loss_pf``).
* MF: multi-frame dependency over the whole clip (``loss_mf``).

Flow comes from the data (``data_samples[i].flows``: the synthetic video's
exact flow or a flow cache) or, when the data has none, from the frozen
``flow`` estimator on the un-normalised frames.

Inference (``predict``, ``_forward``, ``encode_decode``) runs the student
alone, one frame at a time: the stock test loop, MMSeg's benchmark and the
inference API work unchanged, and ``tools/export_student.py`` writes the
student as a plain MMSeg model.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor, nn

__all__ = ['TemporalDistillSegmentor']

LOSS_KEYS = ('tl', 'sf_pixel', 'sf_pair', 'pf', 'mf')
_TEACHER_LOSSES = ('sf_pixel', 'sf_pair', 'pf', 'mf')
_FROZEN = ('teacher', 'flow')


def _model_cfg(cfg: Union[str, dict]) -> dict:
    """A plain segmentor config from a config file path, a full config, a
    model dict or a TemporalDistillSegmentor config (its student)."""
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    if 'model' in cfg:
        cfg = cfg['model']
    if cfg.get('type') in ('TemporalDistillSegmentor',
                           TemporalDistillSegmentor):
        cfg = cfg['student']  # a teacher trained with this segmentor (+TL)
    cfg = copy.deepcopy(dict(cfg))
    cfg.pop('data_preprocessor', None)
    cfg.pop('pretrained', None)
    return cfg


def _strict_load(module: nn.Module, state: Dict[str, Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists the keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f'{k}: checkpoint {tuple(state[k].shape)} vs model '
              f'{tuple(own[k].shape)}' for k in sorted(set(own) & set(state))
              if tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        raise RuntimeError(
            f'{what} does not match the model: {len(missing)} missing keys '
            f'{missing[:8]}, {len(unexpected)} unexpected keys '
            f'{unexpected[:8]}, {len(shapes)} shape mismatches {shapes[:8]}')
    module.load_state_dict(state, strict=True)


def _checkpoint_state(path: str) -> Dict[str, Tensor]:
    """The model weights of a checkpoint: MMEngine's ``state_dict`` (with a
    ``module.`` prefix removed) or a bare state dict; the student of a
    :class:`TemporalDistillSegmentor` checkpoint (a teacher trained with TL)
    is taken as-is."""
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {(k[7:] if k.startswith('module.') else k): v
             for k, v in state.items()}
    if any(k.startswith('student.') for k in state):
        state = {k[8:]: v for k, v in state.items() if k.startswith('student.')}
    return state


@MODELS.register_module()
class TemporalDistillSegmentor(BaseSegmentor):
    """Per-frame student trained for temporal consistency (ETC).

    Args:
        student: any MMSeg segmentor config (e.g. an ``EncoderDecoder``);
            its ``data_preprocessor`` is used when ``data_preprocessor`` is
            not given.
        teacher: ``None`` or ``dict(config=PATH_OR_DICT, checkpoint=PATH)``:
            any MMSeg segmentor, frozen in eval mode, never saved in this
            model's checkpoints (it is reloaded from ``checkpoint``).
        flow: a registered flow estimator config used when the data brings
            no flow (``None``: the data must bring it whenever TL is on).
        losses: ``dict`` with any of the keys ``tl``, ``sf_pixel``,
            ``sf_pair``, ``pf``, ``mf``, each a registered loss config
            (missing or ``None``: off).
        loss_lambda: ``lambda`` of Eq. 3, multiplying every term but CE.
        student_feature, teacher_feature: name of the module whose *input*
            is the feature map for SF pair-wise and MF (the last block
            before the classifier); default the decode head's classifier.
        data_preprocessor: a :class:`VideoSegDataPreProcessor` config.
        train_cfg, test_cfg: unused (the student's own are used); accepted
            because MMSeg's ``init_model`` sets them.
        pretrained: must be ``None`` (``init_model`` passes it).
    """

    def __init__(self,
                 student: dict,
                 teacher: Optional[dict] = None,
                 flow: Optional[dict] = None,
                 losses: Optional[dict] = None,
                 loss_lambda: float = 0.1,
                 student_feature: str = 'decode_head.conv_seg',
                 teacher_feature: str = 'decode_head.conv_seg',
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
        if data_preprocessor is None:
            data_preprocessor = student_pre
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.loss_lambda = float(loss_lambda)
        losses = {k: v for k, v in (losses or {}).items() if v is not None}
        unknown = sorted(set(losses) - set(LOSS_KEYS))
        if unknown:
            raise ValueError(f'losses: unknown keys {unknown}; known: '
                             f'{list(LOSS_KEYS)}')
        self.losses = nn.ModuleDict(
            {k: MODELS.build(v) for k, v in losses.items()})
        needs_teacher = sorted(set(losses) & set(_TEACHER_LOSSES))
        if needs_teacher and teacher is None:
            raise ValueError(f'losses {needs_teacher} need a teacher; got '
                             'teacher=None')
        self.teacher_cfg = copy.deepcopy(teacher)
        self.teacher = None
        if teacher is not None:
            if 'config' not in teacher:
                raise ValueError('teacher must be dict(config=..., '
                                 f'checkpoint=...), got keys {sorted(teacher)}')
            self.teacher = MODELS.build(_model_cfg(teacher['config']))
            self._check_classes()
            self._load_teacher()
            self.teacher.requires_grad_(False)
            self.teacher.eval()
        self.flow = MODELS.build(flow) if flow is not None else None
        self.student_feature = student_feature
        self.teacher_feature = teacher_feature
        self._tapped: Dict[str, Tensor] = {}
        self._tapping = False
        self._tap(self.student, student_feature, 'student')
        if self.teacher is not None:
            self._tap(self.teacher, teacher_feature, 'teacher')
        self._register_state_dict_hook(self._drop_frozen_state)
        self._register_load_state_dict_pre_hook(self._fill_frozen_state,
                                                with_module=True)

    # ------------------------------------------------------------------
    # Construction helpers
    # ------------------------------------------------------------------
    def _check_classes(self) -> None:
        s = getattr(self.student.decode_head, 'num_classes', None)
        t = getattr(self.teacher.decode_head, 'num_classes', None)
        if s != t:
            raise ValueError(f'teacher {self.teacher_cfg.get("config")!r} has '
                             f'{t} classes but the student has {s}: they must '
                             'predict the same classes')

    def _load_teacher(self) -> None:
        ckpt = self.teacher_cfg.get('checkpoint')
        if ckpt is None:
            print_log('TemporalDistillSegmentor: the teacher has no checkpoint '
                      '(random weights): only sensible for tests',
                      logger='current', level=30)
            return
        _strict_load(self.teacher, _checkpoint_state(ckpt),
                     f'teacher checkpoint {ckpt}')

    def _tap(self, model: nn.Module, name: str, key: str) -> None:
        modules = dict(model.named_modules())
        if name not in modules:
            heads = [n for n in modules if n.startswith('decode_head.')][:12]
            raise ValueError(f'{key}_feature={name!r} is not a module of the '
                             f'{key}; modules of its decode head: {heads}')

        def hook(module, args):
            if self._tapping:  # only during training forwards (see _run)
                self._tapped[key] = args[0]

        modules[name].register_forward_pre_hook(hook)

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

    def init_weights(self) -> None:
        super().init_weights()
        if self.teacher is not None:  # init_cfg of parents must not win
            self._load_teacher()
        if self.flow is not None:
            self.flow.init_weights()

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

    def _labelled_frames(self, inputs: Tensor, data_samples) -> Tensor:
        if inputs.dim() != 5:
            return inputs
        idx = [s.metainfo.get('label_index', 0) for s in data_samples] \
            if data_samples else [0] * inputs.shape[0]
        return inputs[torch.arange(inputs.shape[0]), torch.tensor(idx)]

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
    def _run(self, model: nn.Module, x: Tensor, key: str) -> Tuple[List[Tensor], Tensor, Tensor]:
        self._tapping = True
        try:
            feats = model.extract_feat(x)
            logits = model.decode_head.forward(feats)
        finally:
            self._tapping = False
        return feats, logits, self._tapped.pop(key)

    def _flows(self, raw: Tensor, data_samples) -> Tuple[Tensor, Tensor]:
        """Flows ``(B, T-1, 2, H, W)`` and validity ``(B, T-1, 1, H, W)``."""
        if data_samples and 'flows' in data_samples[0]:
            flows = torch.stack([s.flows for s in data_samples]).to(raw)
            valid = torch.stack([s.flow_valid for s in data_samples]).to(raw.device)
            return flows, valid
        if self.flow is None:
            raise ValueError('the temporal loss needs flow: the data samples '
                             'have no `flows` (use LoadSyntheticFlow or '
                             'LoadPrecomputedFlow) and the segmentor has no '
                             '`flow` estimator')
        b, t = raw.shape[:2]
        flows = torch.stack([self.flow(raw[:, a], raw[:, a + 1])
                             for a in range(t - 1)], dim=1)
        valid = torch.ones((b, t - 1, 1, *raw.shape[-2:]), dtype=torch.bool,
                           device=raw.device)
        return flows, valid

    @staticmethod
    def _pad_valid(data_samples, shape, device) -> Tensor:
        """``(B, 1, H, W)`` True inside each sample's unpadded image."""
        valid = torch.zeros((len(data_samples), 1, *shape), dtype=torch.bool,
                            device=device)
        for i, s in enumerate(data_samples):
            h, w = s.metainfo.get('img_shape', shape)[:2]
            valid[i, :, :h, :w] = True
        return valid

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Losses of a batch of clips ``(B, T, 3, H, W)`` (or of single
        labelled frames ``(B, 3, H, W)``: CE only)."""
        if inputs.dim() == 4:
            inputs = inputs[:, None]
        b, t = inputs.shape[:2]
        label_idx = torch.tensor([s.metainfo.get('label_index', 0)
                                  for s in data_samples], device=inputs.device)
        flat = inputs.flatten(0, 1)
        s_feats, s_logits, s_tap = self._run(self.student, flat, 'student')
        losses = {}
        # CE on the labelled frames only.
        rows = torch.arange(b, device=inputs.device) * t + label_idx
        lab_logits = s_logits[rows]
        losses.update(self.student.decode_head.loss_by_feat(lab_logits, data_samples))
        if getattr(self.student, 'with_auxiliary_head', False):
            lab_feats = [f[rows] for f in s_feats]
            heads = self.student.auxiliary_head
            heads = heads if isinstance(heads, nn.ModuleList) else [heads]
            for i, head in enumerate(heads):
                name = 'aux' if len(heads) == 1 else f'aux_{i}'
                losses.update(add_prefix(
                    head.loss(lab_feats, data_samples, self.student.train_cfg), name))
        if not self.losses or t == 1 and not (set(self.losses) & {'sf_pixel', 'sf_pair'}):
            return self._checked(losses)
        s_logits = s_logits.unflatten(0, (b, t))
        s_tap = s_tap.unflatten(0, (b, t))
        if self.teacher is not None:
            with torch.no_grad():
                _, t_logits, t_tap = self._run(self.teacher, flat, 'teacher')
            t_logits = t_logits.unflatten(0, (b, t))
            t_tap = t_tap.unflatten(0, (b, t))
        raw = self.data_preprocessor.unnormalize(inputs)
        pad_valid = self._pad_valid(data_samples, inputs.shape[-2:], inputs.device)
        lam = self.loss_lambda
        terms: Dict[str, List[Tensor]] = {}

        def add(key: str, value: Tensor) -> None:
            terms.setdefault(self.losses[key].loss_name, []).append(value)

        if 'sf_pixel' in self.losses or 'sf_pair' in self.losses:
            pv = F.interpolate(pad_valid.float(), size=s_logits.shape[-2:],
                               mode='nearest')
            for a in range(t):
                if 'sf_pixel' in self.losses:
                    add('sf_pixel', self.losses['sf_pixel'](
                        s_logits[:, a], t_logits[:, a], valid=pv))
                if 'sf_pair' in self.losses:
                    add('sf_pair', self.losses['sf_pair'](s_tap[:, a], t_tap[:, a]))
        if t > 1 and 'tl' in self.losses:
            flows, flow_valid = self._flows(raw, data_samples)
            for a in range(t - 1):
                add('tl', self.losses['tl'](
                    s_logits[:, a], s_logits[:, a + 1], flows[:, a],
                    raw[:, a], raw[:, a + 1], valid=flow_valid[:, a] & pad_valid))
        if t > 1 and 'pf' in self.losses:
            for a in range(t - 1):
                add('pf', self.losses['pf'](s_logits[:, a], s_logits[:, a + 1],
                                            t_logits[:, a], t_logits[:, a + 1]))
        if t > 1 and 'mf' in self.losses:
            add('mf', self.losses['mf']([s_tap[:, a] for a in range(t)],
                                        [t_tap[:, a] for a in range(t)]))
        for name, values in terms.items():
            losses[name] = lam * torch.stack(values).mean()
        return self._checked(losses)

    @staticmethod
    def _checked(losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        for name, value in losses.items():
            if 'loss' in name and not torch.isfinite(value).all():
                raise FloatingPointError(
                    f'{name} is not finite ({value.detach().flatten()[:4].tolist()}):'
                    ' training stopped before the weights are updated')
        return losses
