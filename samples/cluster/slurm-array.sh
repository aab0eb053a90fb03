#!/bin/bash
# A Slurm job array that filters one batch over several nodes, one shard per array task.
#
#   sbatch --array=1-8 samples/cluster/slurm-array.sh /shared/photos /shared/filtered
#
# tilefork reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN/STEP and SLURM_ARRAY_TASK_COUNT by
# itself, so every task runs the same command and takes its own share of the sorted inputs;
# together they cover every input exactly once. A task that fails or is preempted can be run
# again as it is: --skip-existing keeps the outputs it finished.
#SBATCH --job-name=tilefork
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=16
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --output=tilefork-%A_%a.log
set -euo pipefail

input=${1:?usage: sbatch --array=1-N slurm-array.sh INPUT_DIR OUTPUT_DIR [PIPELINE]}
output=${2:?usage: sbatch --array=1-N slurm-array.sh INPUT_DIR OUTPUT_DIR [PIPELINE]}
pipeline=${3:-gaussian sigma=2}
tilefork=${TILEFORK:-tilefork}

# One worker per CPU Slurm gave this task; progress goes to the log as plain lines each minute.
exec "$tilefork" run --pipeline "$pipeline" --recursive --skip-existing \
  --workers "${SLURM_CPUS_PER_TASK:-$(nproc)}" --progress-interval 60 \
  --json -o "$output" "$input" > "tilefork-${SLURM_ARRAY_JOB_ID:-0}_${SLURM_ARRAY_TASK_ID:-0}.json"
