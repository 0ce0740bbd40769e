# CamVid 15 Hz temporal test set, the headline CamVid temporal measurement:
# the release's `val` split is one densely labelled run, 0016E5_07959 ...
# 0016E5_08159, 101 frames 2 video frames apart (15 Hz), served as one
# sequence (max_frame_gap 60 keeps it whole). mIoU, TC (DIS medium, with
# the ground truth's mTC_gt as the flow's ceiling) and VSPW's VC_8 / VC_16
# in one stock test loop. Training and validation as the CPU study
# (camvid_cpu.py); Seq05VD (1 s gaps) stays the stress case of camvid_video.py.
_base_ = ['./camvid_cpu.py']
test_dataloader = dict(dataset=dict(
    data_prefix=dict(img_path='val', seg_map_path='valannot'),
    sample_mode='sequence', max_frame_gap=60))
test_evaluator = [
    dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
    dict(type='TemporalConsistencyMetric',
         flow=dict(type='DISFlow', preset='medium')),
    dict(type='VideoConsistencyMetric', n=(8, 16)),
]
