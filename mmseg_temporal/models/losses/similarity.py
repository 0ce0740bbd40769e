"""Cosine similarity maps (the paper's AT operator) and their distance.

The paper's AT operator turns two ``(C, N)`` tensors into the ``N x N`` map
``a_ij = cos(x1_i, x2_j)``. The PF (Eq. 2) and pair-wise SF (Eq. 5) losses
compare a student map with a teacher map by

    D = (1 / N^2) sum_ij (cos(s1_i, s2_j) - cos(t1_i, t2_j))^2.

:func:`similarity_distance` gives ``D`` exactly without the ``N x N`` maps:
with the columns normalised, ``P = [S1; T1]`` and ``Q = [S2; -T2]`` (channels
stacked, ``(Cs + Ct) x N``), ``P^T Q = A^S - A^T``, so

    sum_ij (a^S_ij - a^T_ij)^2 = ||P^T Q||_F^2 = <P P^T, Q Q^T>_F,

a Frobenius product of two ``(Cs + Ct)``-square Gram matrices, computed
block-wise as ``<XX^T, YY^T> - 2 <XU^T, YV^T> + <UU^T, VV^T>``: O(N (Cs +
Ct)^2) time and O(N (Cs + Ct) + (Cs + Ct)^2) memory instead of O(N^2).
The columns are normalised in the inputs' dtype; the three terms nearly
cancel when student and teacher agree, so the Gram blocks are accumulated
in float64 (chunk by chunk over the pixels, so that
no full float64 copy of the inputs is kept) and the backward pass is
written out in the same way.

:func:`self_similarity` gives the explicit ``(B, N, N)`` map (used by MF on
pooled features, where the map itself is the ConvLSTM's input).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['self_similarity', 'similarity_distance', 'unit_columns']


def _flatten(x: Tensor) -> Tensor:
    """``(B, C, H, W)`` or ``(B, C, N)`` -> ``(B, C, N)``."""
    if x.dim() == 4:
        return x.flatten(2)
    if x.dim() == 3:
        return x
    raise ValueError(f'expected (B, C, H, W) or (B, C, N), got '
                     f'{tuple(x.shape)}')


def unit_columns(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Each pixel's channel vector scaled to unit L2 norm.

    Args:
        x: ``(B, C, H, W)`` or ``(B, C, N)``.
        eps: norms below ``eps`` are taken as ``eps`` (an all-zero vector
            stays zero, so its cosine with anything is 0).

    Returns:
        ``(B, C, N)`` of ``x``'s dtype.
    """
    return F.normalize(_flatten(x), p=2.0, dim=1, eps=eps)


def self_similarity(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Explicit cosine self-similarity map ``A_{X,X}`` of one frame.

    Args:
        x: ``(B, C, H, W)`` (or ``(B, C, N)``) features; N = H * W.
        eps: see :func:`unit_columns`.

    Returns:
        ``(B, N, N)`` with ``a_ij = cos(x_i, x_j)`` in ``[-1, 1]``, in
        ``x``'s dtype; pixels in row-major (H, W) order.
    """
    xn = unit_columns(x, eps)
    return torch.bmm(xn.transpose(1, 2), xn)


def _mask_columns(x: Tensor, valid: Optional[Tensor]) -> Tensor:
    if valid is None:
        return x
    return x * valid.reshape(valid.shape[0], 1, -1).to(x.dtype)


def _count(valid: Optional[Tensor], batch: int, n: int, ref: Tensor) -> Tensor:
    if valid is None:
        return torch.full((batch,), float(n), dtype=ref.dtype,
                          device=ref.device)
    return valid.reshape(batch, -1).to(ref.dtype).sum(1).clamp_min(1.0)


# Columns per chunk: float64 copies of a chunk hold about this many elements.
_CHUNK_ELEMS = 1 << 20


def _chunks(n: int, rows: int):
    step = max(1, _CHUNK_ELEMS // max(rows, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _gram_blocks(x: Tensor, u: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(X X^T, X U^T, U U^T)`` in float64, accumulated over pixel chunks
    (the float64 copies are one chunk at a time)."""
    b, cs, n = x.shape
    ct = u.shape[1]
    opts = dict(dtype=torch.float64, device=x.device)
    gxx = torch.zeros(b, cs, cs, **opts)
    gxu = torch.zeros(b, cs, ct, **opts)
    guu = torch.zeros(b, ct, ct, **opts)
    for sl in _chunks(n, b * (cs + ct)):
        xc, uc = x[..., sl].double(), u[..., sl].double()
        gxx.baddbmm_(xc, xc.transpose(1, 2))
        gxu.baddbmm_(xc, uc.transpose(1, 2))
        guu.baddbmm_(uc, uc.transpose(1, 2))
    return gxx, gxu, guu


def _apply_blocks(ga: Tensor, gb: Tensor, a: Tensor, c: Tensor,
                  scale: Tensor) -> Tensor:
    """``scale * (ga @ a - gb @ c)`` in float64 per chunk, cast to ``a``'s
    dtype; ``a`` ``(B, Ca, N)``, ``c`` ``(B, Cc, N)``, ``scale`` ``(B,)``."""
    out = torch.empty_like(a)
    s = scale.reshape(-1, 1, 1)
    for sl in _chunks(a.shape[2], a.shape[0] * (a.shape[1] + c.shape[1])):
        ac, cc = a[..., sl].double(), c[..., sl].double()
        out[..., sl] = (s * torch.baddbmm(torch.bmm(ga, ac), gb, cc,
                                          alpha=-1.0)).to(a.dtype)
    return out


class _CrossSimilarityDistance(torch.autograd.Function):
    """``sum_ij (x_i . y_j - u_i . v_j)^2`` per sample via the trace identity.

    ``= <XX^T, YY^T> - 2 <XU^T, YV^T> + <UU^T, VV^T>`` (Frobenius products of
    Cs x Cs, Cs x Ct and Ct x Ct Gram blocks), float64, with the gradients
    written out (``dX = 2 (YY^T X - YV^T U)``, ``dU = 2 (VV^T U - VY^T X)``
    and symmetrically for Y, V) so that only the input-dtype tensors and
    the Gram blocks are kept for the backward pass. ``y = v = None`` means
    ``y = x, v = u`` (one set of Gram blocks, gradients doubled).
    """

    @staticmethod
    def forward(ctx, x: Tensor, u: Tensor, y: Optional[Tensor],
                v: Optional[Tensor]) -> Tensor:
        gxx, gxu, guu = _gram_blocks(x, u)
        self_pair = y is None
        gyy, gyv, gvv = (gxx, gxu, guu) if self_pair else _gram_blocks(y, v)
        total = ((gxx * gyy).sum(dim=(1, 2)) - 2.0 *
                 (gxu * gyv).sum(dim=(1, 2)) + (guu * gvv).sum(dim=(1, 2)))
        ctx.self_pair = self_pair
        if self_pair:
            ctx.save_for_backward(x, u, gxx, gxu, guu)
        else:
            ctx.save_for_backward(x, u, y, v, gxx, gxu, guu, gyy, gyv, gvv)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        grad = grad.double()
        if ctx.self_pair:
            x, u, gxx, gxu, guu = ctx.saved_tensors
            k = 4.0 * grad
            dx = _apply_blocks(gxx, gxu, x, u, k) if ctx.needs_input_grad[0] \
                else None
            du = _apply_blocks(guu, gxu.transpose(1, 2), u, x, k) \
                if ctx.needs_input_grad[1] else None
            return dx, du, None, None
        x, u, y, v, gxx, gxu, guu, gyy, gyv, gvv = ctx.saved_tensors
        k = 2.0 * grad
        need = ctx.needs_input_grad
        dx = _apply_blocks(gyy, gyv, x, u, k) if need[0] else None
        du = _apply_blocks(gvv, gyv.transpose(1, 2), u, x, k) if need[1] \
            else None
        dy = _apply_blocks(gxx, gxu, y, v, k) if need[2] else None
        dv = _apply_blocks(guu, gxu.transpose(1, 2), v, y, k) if need[3] \
            else None
        return dx, du, dy, dv


def similarity_distance(s1: Tensor,
                        t1: Tensor,
                        s2: Optional[Tensor] = None,
                        t2: Optional[Tensor] = None,
                        valid1: Optional[Tensor] = None,
                        valid2: Optional[Tensor] = None,
                        eps: float = 1e-12) -> Tensor:
    """Exact ``(1/N^2) sum_ij (cos(s1_i, s2_j) - cos(t1_i, t2_j))^2``.

    Computed with the trace identity, Gram blocks accumulated in float64
    (see the module docstring); no ``N x N`` tensor is formed and the extra
    memory is O(N (Cs + Ct)) in the inputs' dtype plus O((Cs + Ct)^2).

    Args:
        s1, s2: student tensors ``(B, Cs, H, W)`` or ``(B, Cs, N)`` (pixel i
            taken from ``s1``, pixel j from ``s2``).
        t1, t2: teacher tensors ``(B, Ct, ...)`` with the same N; Ct may
            differ from Cs.
        valid1, valid2: optional masks ``(B, N)`` or ``(B, [1,] H, W)``, 1 on
            the pixels i (resp. j) that take part; the sum is then over valid
            pairs and divided by ``n1 * n2`` valid counts instead of N^2.
        eps: see :func:`unit_columns`.

    ``s2 = t2 = None`` means ``s2 = s1, t2 = t1`` (the pair-wise SF loss,
    Eq. 5), which needs one set of Gram blocks.

    Returns:
        ``(B,)`` float64 tensor, one distance per sample (differentiable
        once: no double backward).
    """
    if (s2 is None) != (t2 is None):
        raise ValueError('similarity_distance: give both s2 and t2 or neither')
    x, u = _flatten(s1), _flatten(t1)
    if x.shape[0] != u.shape[0] or x.shape[2] != u.shape[2]:
        raise ValueError('similarity_distance: student and teacher must share '
                         f'batch size and N; got {tuple(s1.shape)} and '
                         f'{tuple(t1.shape)}')
    b, _, n = x.shape
    x = _mask_columns(unit_columns(x, eps), valid1)
    u = _mask_columns(unit_columns(u, eps), valid1)
    if s2 is None and valid2 is None:
        y = v = None
        valid2 = valid1
    else:
        y = _flatten(s1 if s2 is None else s2)
        v = _flatten(t1 if t2 is None else t2)
        if y.shape != x.shape or v.shape != u.shape:
            raise ValueError('similarity_distance: frame-2 tensors must match '
                             f'frame-1 shapes; got s1 {tuple(s1.shape)}, s2 '
                             f'{tuple(y.shape)}, t1 {tuple(t1.shape)}, t2 '
                             f'{tuple(v.shape)}')
        y = _mask_columns(unit_columns(y, eps), valid2)
        v = _mask_columns(unit_columns(v, eps), valid2)
    total = _CrossSimilarityDistance.apply(x, u, y, v)
    return total / (_count(valid1, b, n, total) * _count(valid2, b, n, total))
