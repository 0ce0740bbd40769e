"""Scoped recording of a module's input (MMRazor's recorder, in small).

MMRazor's distillers read intermediate tensors through recorders: context
managers that catch a named module's inputs or outputs while a forward runs
inside a ``with`` block (``ModuleOutputsRecorder``,
``ModuleInputsRecorder``). :class:`ModuleInputsRecorder` does the same for
the one tensor the temporal distillation needs per model, the feature map
that enters the classifier. Its forward pre-hook exists only inside the
``with`` block (registered on enter, removed on exit), so nothing is
recorded, and nothing is kept alive, by forwards outside it (inference,
validation, the auxiliary head).

:func:`pre_dropout_feature` names that module for an MMSeg decode head:
the input of the head's dropout, i.e. the features *before* dropout, or,
for a head without dropout, the input of its classifier ``conv_seg`` (the
same tensor: ``BaseDecodeHead.cls_seg`` applies ``dropout`` then
``conv_seg``).
"""
from typing import List

from torch import Tensor, nn

__all__ = ['ModuleInputsRecorder', 'pre_dropout_feature']


def pre_dropout_feature(model: nn.Module, head: str = 'decode_head') -> str:
    """Name of the module whose input is ``head``'s last feature map before
    dropout: ``'<head>.dropout'`` when the head has a dropout module, else
    ``'<head>.conv_seg'``."""
    module = model.get_submodule(head)
    if isinstance(getattr(module, 'dropout', None), nn.Module):
        return f'{head}.dropout'
    return f'{head}.conv_seg'


class ModuleInputsRecorder:
    """Records the first positional input of ``model``'s module ``source``
    during forwards run inside ``with recorder:``.

    Example::

        recorder = ModuleInputsRecorder(model, 'decode_head.dropout', 'student')
        with recorder:
            logits = model.decode_head(model.extract_feat(x))
        features = recorder.pop()  # the input of decode_head.dropout

    Args:
        model: the model holding the module.
        source: dotted module name (``model.named_modules()``).
        owner: who the model is (``'student'``, ``'teacher'``), for errors.
    """

    def __init__(self, model: nn.Module, source: str, owner: str) -> None:
        modules = dict(model.named_modules())
        if source not in modules:
            head = [n for n in modules if n.startswith('decode_head.')][:12]
            raise ValueError(f'{owner}_feature={source!r} is not a module of '
                             f'the {owner}; modules of its decode head: {head}')
        self.source = source
        self.owner = owner
        self._module = modules[source]
        self._records: List[Tensor] = []
        self._handle = None

    def _hook(self, module: nn.Module, args: tuple) -> None:
        self._records.append(args[0])

    def __enter__(self) -> 'ModuleInputsRecorder':
        if self._handle is not None:
            raise RuntimeError(f'the {self.owner} recorder of {self.source!r} '
                               'is already recording (nested with blocks)')
        self._records = []
        self._handle = self._module.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self._handle.remove()
        self._handle = None

    def pop(self) -> Tensor:
        """The input of the last call of the module inside the last ``with``
        block; the recorder then holds nothing (no tensor kept alive until
        the next step)."""
        if not self._records:
            raise RuntimeError(f'{self.source!r} of the {self.owner} was not '
                               'called inside the recording block')
        last = self._records[-1]
        self._records = []
        return last
