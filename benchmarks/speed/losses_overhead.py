"""Time of the method's losses against the student's own training step.

Student: MMSeg's PSPNet with a ResNet-18-D8 backbone (the MMSeg config
``pspnet_r18-d8``: ResNetV1c-18, PSPHead 128 channels, FCN auxiliary head),
built with ``mmseg.registry.MODELS.build`` from a dict, random weights (no
pretrained weights, no downloads), BN instead of SyncBN, train mode.

Per repeat, on one triplet (3 frames, batch 1):

* student step: forward of the 3 frames + cross-entropy on the labelled
  (middle) frame (main + 0.4 auxiliary, logits upsampled to the label) +
  backward;
* losses: TL (2 frame pairs, logits upsampled to the image resolution, as
  the flow is at image resolution), pixel-wise SF (3 frames), pair-wise SF
  (3 frames, student 128 vs teacher 512 channels, pool 2), PF (2 pairs,
  logits at 1/8), MF (3 frames, pool 16), forward + backward into the
  student's outputs (leaf copies). Teacher outputs and the flow are random
  tensors: the frozen teacher's and the flow network's own forward passes
  are not counted here.

Usage::

    python benchmarks/speed/losses_overhead.py [--sizes 256x512,512x1024]
        [--repeats 2] [--threads N]
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401  (registers the losses)


def build_student() -> torch.nn.Module:
    norm_cfg = dict(type='BN', requires_grad=True)
    cfg = dict(
        type='EncoderDecoder',
        pretrained=None,
        backbone=dict(
            type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg,
            norm_eval=False, style='pytorch', contract_dilation=True),
        decode_head=dict(
            type='PSPHead', in_channels=512, in_index=3, channels=128,
            pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=19,
            norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        auxiliary_head=dict(
            type='FCNHead', in_channels=256, in_index=2, channels=64,
            num_convs=1, concat_input=False, dropout_ratio=0.1,
            num_classes=19, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    model = MODELS.build(cfg)
    model.train()
    return model


def student_step(model, imgs, label):
    """Forward 3 frames, CE on the middle one, backward. Returns outputs."""
    feats = model.extract_feat(imgs)
    head_feat = model.decode_head._forward_feature(feats)
    logits = model.decode_head.cls_seg(head_feat)
    aux = model.auxiliary_head(feats)
    size = label.shape[-2:]
    ce = F.cross_entropy(
        F.interpolate(logits[1:2], size, mode='bilinear'), label,
        ignore_index=255) + 0.4 * F.cross_entropy(
            F.interpolate(aux[1:2], size, mode='bilinear'), label,
            ignore_index=255)
    ce.backward()
    return logits.detach(), head_feat.detach()


def build_losses():
    return dict(
        tl=MODELS.build(dict(type='TemporalLoss')),
        sf_pixel=MODELS.build(dict(type='PixelwiseKDLoss')),
        sf_pair=MODELS.build(dict(type='IntraFrameSimilarityLoss')),
        pf=MODELS.build(dict(type='CrossFrameSimilarityLoss')),
        mf=MODELS.build(dict(type='MultiFrameLoss')))


def run_losses(losses, logits, feats, teacher, flows, imgs, which):
    """Forward + backward of the selected losses; returns the total."""
    lg = logits.clone().requires_grad_()
    ft = feats.clone().requires_grad_()
    t_logits, t_feats = teacher
    total = lg.new_zeros(())
    if 'tl' in which:
        for k in range(2):
            total = total + losses['tl'](lg[k:k + 1], lg[k + 1:k + 2],
                                         flows[k], imgs[k:k + 1],
                                         imgs[k + 1:k + 2])
    if 'sf_pixel' in which:
        total = total + losses['sf_pixel'](lg, t_logits)
    if 'sf_pair' in which:
        total = total + losses['sf_pair'](ft, t_feats)
    if 'pf' in which:
        for k in range(2):
            total = total + losses['pf'](lg[k:k + 1], lg[k + 1:k + 2],
                                         t_logits[k:k + 1],
                                         t_logits[k + 1:k + 2])
    if 'mf' in which:
        total = total + losses['mf'](list(ft.split(1)),
                                     list(t_feats.split(1)))
    total.backward()
    return total


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench(size, repeats, model, losses):
    h, w = size
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(3, 3, h, w, generator=g) * 255
    label = torch.randint(0, 19, (1, h, w), generator=g)
    flows = [torch.randn(1, 2, h, w, generator=g) * 3 for _ in range(2)]
    norm = (imgs - 120.0) / 58.0

    def step():
        model.zero_grad(set_to_none=True)
        return student_step(model, norm, label)

    logits, feats = step()  # warm-up
    t_student = timed(step, repeats)
    hf, wf = logits.shape[-2:]
    teacher = (torch.randn(3, 19, hf, wf, generator=g) * 3,
               torch.relu(torch.randn(3, 512, hf, wf, generator=g)))
    names = ['tl', 'sf_pixel', 'sf_pair', 'pf', 'mf']
    run_losses(losses, logits, feats, teacher, flows, imgs, names)  # warm-up
    t_all = timed(lambda: run_losses(losses, logits, feats, teacher, flows,
                                     imgs, names), repeats)
    per = {n: min(timed(lambda: run_losses(losses, logits, feats, teacher,
                                           flows, imgs, [n]), repeats))
           for n in names}
    return t_student, t_all, per, (hf, wf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='256x512,512x1024')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads (0: torch default)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_student()
    losses = build_losses()
    print(f'machine: nproc={os.cpu_count()} torch={torch.__version__} '
          f'threads={torch.get_num_threads()}; batch 1 triplet (3 frames), '
          f'{args.repeats} timed repeats after 1 warm-up, best (median)')
    print('| input | logits | student fwd+bwd | 4 losses fwd+bwd | ratio | '
          'TL | SF pixel | SF pair | PF | MF |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for s in args.sizes.split(','):
        h, w = (int(v) for v in s.split('x'))
        t_s, t_l, per, (hf, wf) = bench((h, w), args.repeats, model, losses)
        ratio = min(t_l) / min(t_s)
        cells = ' | '.join(f'{per[n] * 1e3:.0f} ms'
                           for n in ['tl', 'sf_pixel', 'sf_pair', 'pf', 'mf'])
        print(f'| {h}x{w} | {hf}x{wf} | {min(t_s):.2f} s '
              f'({statistics.median(t_s):.2f}) | {min(t_l) * 1e3:.0f} ms '
              f'({statistics.median(t_l) * 1e3:.0f}) | {ratio:.1%} | '
              f'{cells} |',
              flush=True)


if __name__ == '__main__':
    main()
