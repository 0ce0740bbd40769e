# The tiny PSPNet (configs/_base_/models/pspnet_tiny.py) as the student of a
# TemporalDistillSegmentor. Losses are switched on by the method configs.
_base_ = ['./pspnet_tiny.py']
student = {{_base_.model}}
model = dict(
    _delete_=True,
    type='TemporalDistillSegmentor',
    student=student,
    data_preprocessor={{_base_.data_preprocessor}},
    # no teacher and no flow estimator: method configs add a teacher; the
    # synthetic video brings exact flow (LoadSyntheticFlow)
    losses=dict())
