# CPU study (issue 23): the tiny student + TL (symmetric KL, weight 1) on real
# CamVid triplets (DIS flow cache) of which half, drawn per sample, are
# replaced by a clip of their labelled frame under random camera motions with
# exact flow (StillToClip(prob=0.5)): synthetic clips mixed with real ones.
# The pipeline is the base's triplet pipeline with StillToClip inserted after
# its loading steps (frames, labels, cached flow). The paired control sets
# loss_weight=0.
_base_ = ['./pspnet_tiny_tl_camvid_cpu.py']
train_dataloader = dict(dataset=dict(pipeline=(
    _base_.train_pipeline[:3] + [dict(type='StillToClip', prob=0.5)]
    + _base_.train_pipeline[3:])))
model = dict(losses=dict(tl=dict(compare='kl', loss_weight=1.0)))
