# The TemporalDistillSegmentor around a student (set `model.student`), with
# FlowNet2 (MMFlow's checkpoint, a local file) as the online flow estimator
# and Cityscapes normalisation. Method configs add losses and a teacher.
# On a CPU-only machine use flow=dict(type='DISFlow') or a flow cache.
flownet2_checkpoint = 'checkpoints/flownet2_8x1_sfine_flyingthings3d_subset_384x768.pth'
data_preprocessor = dict(
    type='VideoSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(769, 769))
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='TemporalDistillSegmentor',
    data_preprocessor=data_preprocessor,
    flow=dict(type='FlowNet2', checkpoint=flownet2_checkpoint),
    losses=dict())
