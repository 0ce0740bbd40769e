# The tiny student with its logits smoothed over time (EMA, alpha 0.5), the
# smoothing users hand-roll against flicker, on the CamVid 15 Hz test set.
# Test any of the study's checkpoints with it; other alphas:
#   --cfg-options model.alpha=0.7
_base_ = ['./camvid_cpu_15hz_test.py']
model = dict(_delete_=True, type='EMASmoothedSegmentor', alpha=0.5,
             segmentor={{_base_.model}})
