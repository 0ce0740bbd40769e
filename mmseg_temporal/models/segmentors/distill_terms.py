"""The distillation terms of the method, as a table: term -> granularity.

Every term of Eq. 3 but CE is one row of :data:`DISTILL_TERMS`: on which
unit of a clip of ``num_frames`` frames it is computed (``'frame'``: every
frame; ``'pair'``: every consecutive pair ``(t, t+1)``; ``'clip'``: the
whole clip once, for ``num_frames > 1``), whether it reads the teacher or
the flow, and the call that feeds its loss module from a
:class:`DistillInputs`. :func:`compute_distill_losses` averages each term
over its units; the weight of a term is its loss module's ``loss_weight``.

=========  ===========  =======  ====  ======================================
term       granularity  teacher  flow  loss module (default)
=========  ===========  =======  ====  ======================================
sf_pixel   frame        yes      no    ``PixelwiseKDLoss`` on logits
sf_pair    frame        yes      no    ``IntraFrameSimilarityLoss`` on features
tl         pair         no       yes   ``TemporalLoss`` on student logits
pf         pair         yes      no    ``CrossFrameSimilarityLoss`` on logits
mf         clip         yes      no    ``MultiFrameLoss`` on features
=========  ===========  =======  ====  ======================================
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...utils.errors import ConfigError
from ..losses.base import check_non_negative

__all__ = ['ClipForward', 'DistillInputs', 'DistillTerm', 'DISTILL_TERMS',
           'term_steps', 'compute_distill_losses', 'pad_valid_mask',
           'check_loss_configs', 'fb_check_options']


@dataclass
class ClipForward:
    """One model's forward over a clip of ``num_frames`` frames.

    Attributes:
        feats: backbone (and neck) outputs, frames flattened ``(B*T, ...)``.
        logits: decode head logits ``(B, T, C, h, w)``.
        features: the recorded feature map before the classifier (before
            dropout by default) ``(B, T, C', h', w')``.
    """
    feats: List[Tensor]
    logits: Tensor
    features: Tensor


@dataclass
class DistillInputs:
    """What the distillation terms read.

    Attributes:
        student, teacher: forwards over the clip (``teacher`` is ``None``
            when no active term needs it).
        images: un-normalised frames ``(B, T, 3, H, W)``.
        pad_valid: ``(B, 1, H, W)``, True inside each sample's image.
        flows, flow_valid: ``(B, T-1, 2, H, W)`` flow ``t -> t+1`` and its
            validity ``(B, T-1, 1, H, W)``; ``None`` when no term needs
            flow.
    """
    student: ClipForward
    teacher: Optional[ClipForward]
    images: Tensor
    pad_valid: Tensor
    flows: Optional[Tensor] = None
    flow_valid: Optional[Tensor] = None


@dataclass(frozen=True)
class DistillTerm:
    """One row of the term table (see the module docstring)."""
    granularity: str
    needs_teacher: bool
    needs_flow: bool
    compute: Callable[[nn.Module, DistillInputs, Optional[int]], Tensor]


def _valid_at(mask: Tensor, size) -> Tensor:
    return F.interpolate(mask.float(), size=tuple(size), mode='nearest')


def _sf_pixel(loss: nn.Module, x: DistillInputs, t: int) -> Tensor:
    s = x.student.logits[:, t]
    return loss(s, x.teacher.logits[:, t],
                valid=_valid_at(x.pad_valid, s.shape[-2:]))


def _sf_pair(loss: nn.Module, x: DistillInputs, t: int) -> Tensor:
    return loss(x.student.features[:, t], x.teacher.features[:, t])


def _tl(loss: nn.Module, x: DistillInputs, t: int) -> Tensor:
    s = x.student.logits
    return loss(s[:, t], s[:, t + 1], x.flows[:, t], x.images[:, t],
                x.images[:, t + 1], valid=x.flow_valid[:, t] & x.pad_valid)


def _pf(loss: nn.Module, x: DistillInputs, t: int) -> Tensor:
    s, te = x.student.logits, x.teacher.logits
    return loss(s[:, t], s[:, t + 1], te[:, t], te[:, t + 1])


def _mf(loss: nn.Module, x: DistillInputs, _: None) -> Tensor:
    return loss(list(x.student.features.unbind(1)),
                list(x.teacher.features.unbind(1)))


DISTILL_TERMS: Dict[str, DistillTerm] = {
    'sf_pixel': DistillTerm('frame', True, False, _sf_pixel),
    'sf_pair': DistillTerm('frame', True, False, _sf_pair),
    'tl': DistillTerm('pair', False, True, _tl),
    'pf': DistillTerm('pair', True, False, _pf),
    'mf': DistillTerm('clip', True, False, _mf),
}


def term_steps(granularity: str, num_frames: int) -> List[Optional[int]]:
    """The units a term of ``granularity`` is computed on: frame indices,
    first frames of consecutive pairs, or ``[None]`` for the whole clip
    (none when the clip has one frame)."""
    if granularity == 'frame':
        return list(range(num_frames))
    if granularity == 'pair':
        return list(range(num_frames - 1))
    if granularity == 'clip':
        return [None] if num_frames > 1 else []
    raise ValueError(f'unknown granularity {granularity!r}')


def compute_distill_losses(losses: nn.ModuleDict, inputs: DistillInputs,
                           num_frames: int) -> Dict[str, Tensor]:
    """Each term's loss averaged over its units, keyed by the loss's
    ``loss_name`` (terms sharing a name are summed, as MMSeg's heads do)."""
    out: Dict[str, Tensor] = {}
    for key, loss in losses.items():
        term = DISTILL_TERMS[key]
        steps = term_steps(term.granularity, num_frames)
        if not steps:
            continue
        value = torch.stack([term.compute(loss, inputs, s)
                             for s in steps]).mean()
        name = loss.loss_name
        out[name] = out[name] + value if name in out else value
    return out


def pad_valid_mask(data_samples, shape, device) -> Tensor:
    """``(B, 1, H, W)``: True inside each sample's unpadded image
    (``img_shape``), False on the padding."""
    valid = torch.zeros((len(data_samples), 1, *shape), dtype=torch.bool,
                        device=device)
    for i, s in enumerate(data_samples):
        h, w = s.metainfo.get('img_shape', shape)[:2]
        valid[i, :, :h, :w] = True
    return valid


def check_loss_configs(cfgs) -> Dict[str, dict]:
    """The segmentor's ``losses`` without the ``None`` entries, checked
    before anything is built: each key a term of :data:`DISTILL_TERMS`,
    each value a loss config whose ``loss_weight`` is a finite number
    >= 0 (a :class:`ConfigError` names the key)."""
    if not isinstance(cfgs, dict):
        raise ConfigError('model.losses must be a dict of term -> loss '
                          f'config, got {type(cfgs).__name__}')
    cfgs = {k: v for k, v in cfgs.items() if v is not None}
    unknown = sorted(set(cfgs) - set(DISTILL_TERMS))
    if unknown:
        raise ConfigError(f'model.losses: unknown keys {unknown}; known: '
                          f'{list(DISTILL_TERMS)}')
    for k, v in cfgs.items():
        if not isinstance(v, dict) or 'type' not in v:
            raise ConfigError(f'model.losses.{k} must be a loss config '
                              f'dict(type=...), got {v!r}')
        if 'loss_weight' in v:
            check_non_negative(v['loss_weight'], f'model.losses.{k}.loss_weight')
    return cfgs


def fb_check_options(opts) -> Optional[dict]:
    """``flow_fb_check`` (bool or ``dict(alpha=..., beta=...)``) as the
    keyword arguments of ``forward_backward_valid``, ``None`` when off;
    unknown keys and negative tolerances are a :class:`ConfigError`."""
    if not isinstance(opts, dict):
        return {} if opts else None
    unknown = sorted(set(opts) - {'alpha', 'beta'})
    if unknown:
        raise ConfigError(f'model.flow_fb_check: unknown keys {unknown}; '
                          "known: ['alpha', 'beta']")
    for k, v in opts.items():
        check_non_negative(v, f'model.flow_fb_check.{k}')
    return dict(opts)
