"""ConvLSTM with peephole terms (Eq. 6 of the paper's appendix A.2)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['ConvLSTM']

State = Tuple[Tensor, Tensor]


class ConvLSTM(nn.Module):
    """One ConvLSTM layer (Shi et al. 2015) with the paper's peepholes.

    For an input ``A_t`` and state ``(H_{t-1}, E_{t-1})`` (hidden, memory)::

        i_t = sigmoid(W_ai * A_t + W_hi * H_{t-1} + w_ei o E_{t-1} + b_i)
        f_t = sigmoid(W_af * A_t + W_hf * H_{t-1} + w_ef o E_{t-1} + b_f)
        E_t = f_t o E_{t-1} + i_t o tanh(W_ae * A_t + W_he * H_{t-1} + b_e)
        o_t = sigmoid(W_ao * A_t + W_ho * H_{t-1} + w_eo o E_t + b_o)
        H_t = o_t o tanh(E_t)

    ``*`` is a 'same'-padded convolution (all eight kernels live in one
    ``Conv2d`` over ``[A_t, H_{t-1}]`` with ``4 * hidden`` outputs ordered
    i, f, e, o), ``o`` the Hadamard product. The peephole weights ``w_e*``
    are one scalar per hidden channel, broadcast over space, so that the
    module does not depend on the input's spatial size (Shi et al. use one
    weight per position; the authors' release has no peepholes). The state
    starts at zero.

    Weight clipping: :meth:`clip_` clamps every parameter (kernels, biases,
    peepholes) into ``clip_range``; it is applied at construction and, in
    training, after every optimiser step by ``ConvLSTMWeightClipHook``.

    Args:
        in_channels: channels of ``A_t``.
        hidden_channels: channels of ``H`` and ``E`` (release: 4).
        kernel_size: odd convolution size (release: 3).
        peephole: use the ``w_e*`` terms of Eq. 6.
        clip_range: ``(low, high)`` for :meth:`clip_`, or ``None`` for no
            clipping.
    """

    def __init__(self,
                 in_channels: int = 1,
                 hidden_channels: int = 4,
                 kernel_size: int = 3,
                 peephole: bool = True,
                 clip_range: Optional[Tuple[float, float]] = (-0.5, 0.5)
                 ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'ConvLSTM: kernel_size must be odd, got '
                             f'{kernel_size}')
        if clip_range is not None:
            clip_range = (float(clip_range[0]), float(clip_range[1]))
            if not clip_range[0] < clip_range[1]:
                raise ValueError(f'ConvLSTM: clip_range must be (low, high) '
                                 f'with low < high, got {clip_range}')
        self.in_channels = int(in_channels)
        self.hidden_channels = int(hidden_channels)
        self.clip_range = clip_range
        self.gates = nn.Conv2d(self.in_channels + self.hidden_channels,
                               4 * self.hidden_channels, kernel_size,
                               padding=kernel_size // 2)
        if peephole:
            bound = 1.0 / math.sqrt(self.gates.weight[0].numel())
            shape = (self.hidden_channels, 1, 1)
            for name in ('w_ei', 'w_ef', 'w_eo'):
                setattr(self, name, nn.Parameter(
                    torch.empty(shape).uniform_(-bound, bound)))
        else:
            self.register_parameter('w_ei', None)
            self.register_parameter('w_ef', None)
            self.register_parameter('w_eo', None)
        self.clip_()

    @property
    def peephole(self) -> bool:
        return self.w_ei is not None

    def init_state(self, x: Tensor) -> State:
        """Zero ``(H, E)`` for an input ``x`` of shape ``(B, C, H, W)``."""
        b, _, h, w = x.shape
        z = x.new_zeros(b, self.hidden_channels, h, w)
        return z, z

    def step(self, x: Tensor, state: Optional[State] = None) -> State:
        """One time step: ``x`` ``(B, in_channels, H, W)`` -> ``(H_t, E_t)``
        each ``(B, hidden_channels, H, W)``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ConvLSTM: input must be (B, {self.in_channels},'
                             f' H, W), got {tuple(x.shape)}')
        h_prev, e_prev = self.init_state(x) if state is None else state
        if h_prev.shape[0] != x.shape[0] or h_prev.shape[-2:] != x.shape[-2:]:
            raise ValueError(f'ConvLSTM: state {tuple(h_prev.shape)} does not '
                             f'fit input {tuple(x.shape)}')
        z = self.gates(torch.cat([x, h_prev], dim=1))
        zi, zf, ze, zo = z.chunk(4, dim=1)
        if self.peephole:
            zi = zi + self.w_ei * e_prev
            zf = zf + self.w_ef * e_prev
        e = torch.sigmoid(zf) * e_prev + torch.sigmoid(zi) * torch.tanh(ze)
        if self.peephole:
            zo = zo + self.w_eo * e
        h = torch.sigmoid(zo) * torch.tanh(e)
        return h, e

    def forward(self, inputs: Sequence[Tensor],
                state: Optional[State] = None) -> State:
        """Run over a sequence.

        Args:
            inputs: ``T`` tensors ``(B, in_channels, H, W)`` in time order
                (or one ``(B, T, in_channels, H, W)`` tensor).
            state: initial ``(H, E)``; zeros if ``None``.

        Returns:
            ``(H_T, E_T)``: final hidden and memory states.
        """
        if isinstance(inputs, Tensor):
            inputs = inputs.unbind(1)
        if len(inputs) == 0:
            raise ValueError('ConvLSTM: empty input sequence')
        for x in inputs:
            state = self.step(x, state)
        return state

    @torch.no_grad()
    def clip_(self, clip_range: Optional[Tuple[float, float]] = None) -> None:
        """Clamp every parameter into ``clip_range`` (default: the module's
        own; nothing happens when both are ``None``)."""
        rng = self.clip_range if clip_range is None else clip_range
        if rng is None:
            return
        for p in self.parameters():
            p.clamp_(float(rng[0]), float(rng[1]))

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, hidden_channels='
                f'{self.hidden_channels}, peephole={self.peephole}, '
                f'clip_range={self.clip_range}')
