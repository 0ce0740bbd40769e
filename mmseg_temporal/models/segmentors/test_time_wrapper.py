"""The base of the test-time wrappers of any segmentor: the wrapped model is
built from its own config, its checkpoint loads as it is (its keys gain
the ``segmentor.`` prefix on load) and training is refused."""
from typing import List, Optional

from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['TestTimeWrapper']

_PREFIX = 'segmentor.'


class TestTimeWrapper(BaseSegmentor):
    """A segmentor that wraps ``segmentor`` at test time.

    Subclasses implement ``predict``. The ``tensor`` mode, ``extract_feat``
    and ``encode_decode`` are the wrapped model's.

    Args:
        segmentor: config of the wrapped model (e.g. an ``EncoderDecoder``,
            or a ``TemporalDistillSegmentor``, whose student predicts).
        data_preprocessor: default: the wrapped model's.
    """

    def __init__(self, segmentor: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.segmentor = MODELS.build(segmentor)
        if data_preprocessor is None:
            self.data_preprocessor = self.segmentor.data_preprocessor
        self._register_load_state_dict_pre_hook(self._prefix_wrapped_keys)

    @staticmethod
    def checkpoint_keys(state_dict: dict) -> dict:
        """The keys a checkpoint's weights load under: the wrapped model's
        own ``k`` as ``segmentor.k`` (the wrapper's keys stay)."""
        return {k if k.startswith(_PREFIX) else _PREFIX + k: v
                for k, v in state_dict.items()}

    def _prefix_wrapped_keys(self, state_dict, prefix, *args) -> None:
        """Load pre-hook: :meth:`checkpoint_keys` on this module's entries,
        in place."""
        own = {k[len(prefix):]: state_dict.pop(k)
               for k in [k for k in state_dict if k.startswith(prefix)]}
        state_dict.update({prefix + k: v
                           for k, v in self.checkpoint_keys(own).items()})

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """The wrapped model's raw logits (tensor mode: no test-time step)."""
        return self.segmentor._forward(inputs, data_samples)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        return self.segmentor.extract_feat(inputs)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.segmentor.encode_decode(inputs, batch_img_metas)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        raise RuntimeError(f'{type(self).__name__} is a test-time wrapper: '
                           'train the wrapped segmentor, then test it wrapped')
