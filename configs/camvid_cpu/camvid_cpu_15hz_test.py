# The CPU study's test on the CamVid 15 Hz temporal test set, the one every
# student (baseline, TL, ETC) and the teacher are scored with: mIoU, mTC
# (with mTC_gt, the flow's ceiling), mVC_8 and mVC_16 in one loop. Its model
# is the tiny student; benchmarks/studies/camvid_study.py puts in the trained one.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_camvid_cpu.py',
    '../_base_/datasets/camvid_15hz.py',
    '../_base_/schedules/camvid_cpu.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
