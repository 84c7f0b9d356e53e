#!/usr/bin/env bash
# The device check, prepared to run once on a lent GPU machine (the device tool's H200, whose
# python3 holds a CUDA torch, pytest and hypothesis): build geo3d._C with its CUDA kernels,
# run every CUDA test, then the benchmarks on the GPU. Logs go under $OUT (8 files at most,
# what the device tool brings back):
#
#     run(command="bash tools/gpu_check.sh", timeout_s=560)
#
# Each step has its own time limit so that a hang in one still leaves the others' logs.
set -uo pipefail
OUT=${OUT:-/tmp/geo3d_gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-16} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
step() { echo "[gpu_check] $(date +%T) $*"; }

step "device"
{ nvidia-smi; $PY -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"; } \
  >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt" | tail -3

step "build (CUDA kernels for $TORCH_CUDA_ARCH_LIST)"
if ! timeout 240 $PY setup.py build_ext --inplace >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  exit 1
fi
grep "geo3d: building" "$OUT/build.log"

step "CUDA tests"
timeout 200 $PY -m pytest -m cuda -q -p no:cacheprovider --continue-on-collection-errors \
  --junitxml="$OUT/cuda_tests.xml" tests >"$OUT/cuda_tests.log" 2>&1
echo "pytest exit $?"
tail -25 "$OUT/cuda_tests.log"

for suite in ops pooling boxes; do
  step "benchmark $suite"
  timeout 60 $PY tools/benchmark.py "$suite" --quick --markdown >"$OUT/bench_$suite.md" 2>&1
  echo "exit $?"
done
step "done"
