"""Backbones: anti-aliased variants of MMSeg's (registered on import)."""
from .antialiased import (
                          ANTIALIASED_BACKBONES,
                          BlurSubsampledConv2d,
                          BlurSubsampledMaxPool2d,
                          antialias_downsampling,
                          binomial_kernel,
                          blur_subsample,
)

__all__ = ['ANTIALIASED_BACKBONES', 'BlurSubsampledConv2d', 'BlurSubsampledMaxPool2d',
           'antialias_downsampling', 'binomial_kernel', 'blur_subsample']
