"""Seeded causes of flicker for the synthetic video, off by default.

Real footage makes a per-frame model flicker for reasons the clean
synthetic video lacks (docs/results.md, the flicker profile: on CamVid 15 Hz
half the flicker is inside regions and a quarter on small ones; on the
clean synthetic video it sits on object boundaries). Each option below adds
one such cause; every draw is seeded by ``(seed, video, frame)``, so a video
stays a pure function of its arguments.

* ``appearance_overlap`` in ``[0, 1]``: the class colours pulled towards
  their mean (0: the distinct colours, 1: one colour; the classes then
  differ only in texture scale, shape and context): ambiguous appearance.
* ``small_objects`` ``(min, max)``: extra objects per video, 3-8 % of the
  frame's sides (a few pixels to a side, like CamVid's poles, signs and
  pedestrians), drawn in front, from their own random stream (the other
  objects of a video do not change).
* ``noise_std``: Gaussian sensor noise, grey levels, new every frame.
* ``lighting_drift``: a global gain ``1 + a sin(2 pi t / 12 + phase)``
  (phase per video): lighting change.
* ``jpeg_quality`` in ``[1, 100]``: every frame JPEG-compressed at that
  quality (0: off): compression artefacts.
"""
from typing import Dict, Optional

import numpy as np

from ..flow.camera_motion import apply_sensor_nuisance

__all__ = ['SyntheticNuisance']

_DEFAULTS = dict(appearance_overlap=0.0, small_objects=(0, 0), noise_std=0.0,
                 lighting_drift=0.0, jpeg_quality=0)
_CASTS = dict(appearance_overlap=float, noise_std=float, lighting_drift=float,
              jpeg_quality=int, small_objects=lambda v: tuple(int(n) for n in v))
_LIGHTING_PERIOD = 12.0


class SyntheticNuisance:
    """The options of the module docstring, checked.

    Args:
        options: a dict with any of ``appearance_overlap``,
            ``small_objects``, ``noise_std``, ``lighting_drift``,
            ``jpeg_quality`` (None or ``{}``: none).
    """

    def __init__(self, options: Optional[Dict] = None) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise ValueError(f'synthetic nuisance: unknown option(s) {unknown}; '
                             f'known: {sorted(_DEFAULTS)}')
        opts = dict(_DEFAULTS, **options)
        values = {k: _CASTS[k](v) for k, v in opts.items()}
        checks = {
            'appearance_overlap': 0 <= values['appearance_overlap'] <= 1,
            'small_objects': len(values['small_objects']) == 2 and
            0 <= values['small_objects'][0] <= values['small_objects'][1],
            'noise_std': values['noise_std'] >= 0,
            'lighting_drift': 0 <= values['lighting_drift'] < 1,
            'jpeg_quality': 0 <= values['jpeg_quality'] <= 100,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f'synthetic nuisance: invalid {bad[0]} = '
                             f'{opts[bad[0]]!r} (see SyntheticNuisance)')
        for key, value in values.items():
            setattr(self, key, value)
        # the options that differ from the defaults (for manifests)
        self.options = {k: list(v) if isinstance(v, tuple) else v
                        for k, v in values.items() if v != _DEFAULTS[k]}

    def colours(self, colours: np.ndarray) -> np.ndarray:
        """The class colours ``(K, 3)`` pulled towards their mean."""
        a = self.appearance_overlap
        return (1 - a) * colours + a * colours.mean(0, keepdims=True)

    def photometric(self, img: np.ndarray, seed: int, video_index: int,
                    t: int) -> np.ndarray:
        """Frame ``t``'s float RGB image with lighting, noise and
        compression applied; uint8 out."""
        gain = 1.0
        if self.lighting_drift:
            phase = np.random.default_rng([seed, video_index, 4]).uniform(0, 2 * np.pi)
            gain = 1 + self.lighting_drift * np.sin(
                2 * np.pi * t / _LIGHTING_PERIOD + phase)
        rng = (np.random.default_rng([seed, video_index, 5, t])
               if self.noise_std else None)
        return apply_sensor_nuisance(img, self.noise_std, gain,
                                     self.jpeg_quality, rng)
