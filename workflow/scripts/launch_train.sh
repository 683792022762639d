#!/usr/bin/env bash
# Start a training command with the processes its resources ask for (the train rules call this):
#   launch_train.sh GPUS NODES skeletonllm train ARGS...
# GPUS = 0: the command itself, one process on the CPU. GPUS > 0 inside a SLURM allocation: srun starts one
# torchrun per node, which starts GPUS processes there; they meet at the allocation's first node (MASTER_ADDR = the
# first host of `scontrol show hostnames $SLURM_JOB_NODELIST`, MASTER_PORT = 29500 + the job id modulo 1000), and
# the Trainer trains with DDP over NODES x GPUS processes (it reads RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
# MASTER_PORT, which torchrun sets). GPUS > 0 outside SLURM: torchrun --standalone on this machine.
set -euo pipefail
gpus=$1 nodes=$2
shift 2
if [[ $gpus -eq 0 ]]; then
    exec "$@"
fi
program=$(command -v "$1")  # torchrun runs the console script (a Python file) in each process
shift
if [[ -n ${SLURM_JOB_ID:-} ]]; then
    MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
    MASTER_PORT=$((29500 + SLURM_JOB_ID % 1000))
    export MASTER_ADDR MASTER_PORT
    exec srun --nodes "$nodes" --ntasks-per-node 1 torchrun --nnodes "$nodes" --nproc-per-node "$gpus" \
        --rdzv-id "$SLURM_JOB_ID" --rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" "$program" "$@"
fi
exec torchrun --standalone --nproc-per-node "$gpus" "$program" "$@"
