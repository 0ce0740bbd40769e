"""Time FlowNet2 (random weights) and DIS on one 384x512 frame pair.

Usage::

    python benchmarks/speed/flownet2_cpu.py [--height 384] [--width 512]
        [--repeats 3] [--device cpu]

Prints the machine line (CPU, cores, torch and its threads) and the median
wall time of each estimator's ``forward(img1, img2)`` after one warm-up.
"""
import argparse
from functools import partial

import torch
import torch.nn.functional as F

from mmseg_temporal.flow.estimators.dis_flow import DISFlow
from mmseg_temporal.flow.estimators.flownet2 import FlowNet2
from mmseg_temporal.utils.cpu_info import machine_line

from _common import median, time_calls


def textured_pair(h: int, w: int, shift: int = 4):
    """A smooth random RGB frame in [0, 255] and a copy moved right."""
    g = torch.Generator().manual_seed(0)
    img = F.interpolate(
        torch.rand(1, 3, h // 8, w // 8, generator=g), size=(h, w),
        mode='bicubic', align_corners=False).clamp(0, 1) * 255
    return img, torch.roll(img, shifts=shift, dims=3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--height', type=int, default=384)
    parser.add_argument('--width', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()

    print(machine_line(device=args.device))
    img1, img2 = textured_pair(args.height, args.width)
    img1, img2 = img1.to(args.device), img2.to(args.device)
    size = f'{args.height}x{args.width}'

    flownet2 = FlowNet2().to(args.device)  # random weights
    times = time_calls(partial(flownet2, img1, img2), args.repeats)
    print(f'FlowNet2 {size}: median {median(times):.3f} s '
          f'(runs: {", ".join(f"{t:.3f}" for t in times)})')
    del flownet2

    for preset in ('ultrafast', 'fast', 'medium'):
        dis = DISFlow(preset=preset)
        times = time_calls(partial(dis, img1, img2), max(args.repeats, 5))
        print(f'DIS {preset} {size}: median {median(times) * 1000:.1f} ms '
              f'(min {min(times) * 1000:.1f} ms over {len(times)} runs)')


if __name__ == '__main__':
    main()
