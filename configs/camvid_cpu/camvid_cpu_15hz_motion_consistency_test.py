# The CPU study's tiny student on the CamVid 15 Hz run, with its motion
# consistency: each frame against itself moved by a seeded small camera
# motion (shift <= 3 px, rotation <= 0.5 deg, zoom <= 2 % at 360x480; exact
# flow), scored like TC (docs/evaluation.md), plus the curve over pure shifts
# (16 px: one cell of the stride-8 logit grid at the model's half-size
# input). mIoU, mTC, mVC and mMC in one test loop; the predictions that mIoU
# and TC score are the model's own. Any of the study's checkpoints tests
# with it.
_base_ = ['./camvid_cpu_15hz_test.py']
model = dict(_delete_=True, type='MotionConsistencySegmentor',
             segmentor={{_base_.model}},
             motion=dict(shift=3, rotation=0.5, zoom=0.02),
             shifts=(0.5, 1, 2, 3, 4, 8, 16), seed=0)
test_evaluator = [
    dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
    dict(type='TemporalConsistencyMetric',
         flow=dict(type='DISFlow', preset='medium')),
    dict(type='VideoConsistencyMetric', n=(8, 16)),
    dict(type='MotionConsistencyMetric'),
]
