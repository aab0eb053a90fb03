#!/bin/bash
# The cluster samples run the same command in every task, and their shares cover the inputs:
# samples/cluster/slurm-array.sh is run as three array tasks (ids 1..3) over the sample frames
# plus copies, and the Kubernetes manifest's --shards must equal its completions.
# Usage: cluster_samples_test.sh TILEFORK SOURCE_DIR
set -euo pipefail
tilefork=$1
source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/in"
for name in "$source_dir"/samples/frames/*.jpg; do
  cp "$name" "$scratch/in/"
  cp "$name" "$scratch/in/copy-$(basename "$name")"
done
cd "$scratch"
for task in 1 2 3; do
  env -u JOB_COMPLETION_INDEX SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=1 \
    SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=1 TILEFORK="$tilefork" \
    bash "$source_dir/samples/cluster/slurm-array.sh" "$scratch/in" "$scratch/out" "invert" 2>"task$task.log"
done
inputs=$(ls "$scratch/in" | wc -l)
outputs=$(ls "$scratch/out" | wc -l)
done_items=$(cat tilefork-7_*.json | grep -c '"status": "ok"')
if [[ $outputs -ne $inputs || $done_items -ne $inputs ]]; then
  echo "FAIL: $inputs inputs, $outputs outputs, $done_items reported done"; cat task*.log; exit 1
fi
for task in 1 2 3; do
  grep -q "\"index\": $task" "tilefork-7_$task.json" || { echo "FAIL: task $task did not run shard $task"; exit 1; }
done

manifest="$source_dir/samples/cluster/k8s-indexed-job.yaml"
completions=$(sed -n 's/^ *completions: *\([0-9]*\).*/\1/p' "$manifest")
shards=$(sed -n 's/.*"--shards=\([0-9]*\)".*/\1/p' "$manifest")
if [[ -z $completions || $completions != "$shards" ]]; then
  echo "FAIL: the manifest's completions ($completions) and --shards ($shards) differ"; exit 1
fi
echo "ok: 3 Slurm tasks wrote $outputs of $inputs inputs once each; manifest: $completions shards"
