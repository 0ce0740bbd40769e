# Twice the tiny PSPNet's width (base width 32): the teachers of the CPU CamVid
# study and of the synthetic video, wider and trained longer than the student
# they distil into.
#   model = dict(student={{_base_.small_width}})
small_width = dict(backbone=dict(base_channels=32, stem_channels=32),
                   decode_head=dict(in_channels=256, channels=64))
