#!/usr/bin/env bash
# Distributed training with torchrun (PyTorch DDP through MMEngine).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# NNODES, NODE_RANK, PORT, MASTER_ADDR as in MMSeg's script. On a machine
# without GPUs the processes use the gloo backend (CPU).
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="${ROOT}:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "${ROOT}/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
