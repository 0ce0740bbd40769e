# bfloat16 autocast training, on the CPU too (issue 21; docs/training.md).
# MMEngine's AmpOptimWrapper asserts a GPU; CPUAutocastOptimWrapper runs the
# forward under torch.autocast(<model's device>, bfloat16) and refuses to
# start on a CPU without bf16 hardware (avx512_bf16 / amx_bf16 / bf16).
# MMEngine allows a key in one base only, so this fragment names the wrapper
# under its own key; a config includes it and switches with one line:
#   _base_ = [..., '../_base_/schedules/bf16_cpu.py']
#   optim_wrapper = {{_base_.bf16_cpu_optim_wrapper}}
# (merged into the schedule's optim_wrapper: the optimiser is kept). On the
# command line, with any config:
#   --cfg-options optim_wrapper.type=CPUAutocastOptimWrapper
bf16_cpu_optim_wrapper = dict(type='CPUAutocastOptimWrapper', dtype='bfloat16')
