# Motion-compensated EMA (issue 23, item 4): the EMA config's smoothing with
# the past warped onto each frame by DIS `fast` flow (from the frame to the
# previous one, at the frames' 360x480) before blending, so the average
# follows moving objects; where the warp leaves the frame the frame's own
# logits are kept. Other flow: --cfg-options model.motion.preset=ultrafast
_base_ = ['./camvid_cpu_15hz_ema_test.py']
model = dict(motion=dict(type='DISFlow', preset='fast'))
