#!/usr/bin/env bash
# On a GPU machine: build groot-core with its CUDA kernels, run the CPU and GPU tests,
# compute-sanitizer (memcheck, racecheck, initcheck) and the benchmark. Logs and tables go to $OUT
# (default artifacts/).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts}
mkdir -p "$out"
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} PYTHONUNBUFFERED=1
python=${PYTHON:-python3}

echo "== build"
if ! "$python" -m pip install --no-build-isolation --no-deps -v packages/groot-core > "$out/build.log" 2>&1; then
  tail -60 "$out/build.log"
  exit 1
fi
status=0
# The CPU suite too: this image builds with its own toolchain, and runs the CPU loops on 16 threads.
echo "== CPU tests"
"$python" -m pytest tests/core -q -p no:cacheprovider 2>&1 | tee "$out/cpu_tests.log" | tail -3 || status=1
echo "== GPU tests"
"$python" -m pytest tests/cuda -q -p no:cacheprovider 2>&1 | tee "$out/gpu_tests.log" | tail -25 || status=1
# initcheck: no kernel reads device memory that nothing wrote (the workspaces come uncleared from
# the caching allocator). It and racecheck skip the deliberately broken inputs.
for tool in memcheck racecheck initcheck; do
  echo "== compute-sanitizer --tool $tool"
  flags=$([ "$tool" != memcheck ] && echo --valid-only)
  compute-sanitizer --tool "$tool" --error-exitcode 9 "$python" tests/cuda/sanitizer_workload.py $flags \
    > "$out/sanitizer_$tool.log" 2>&1
  echo "exit $?"; tail -4 "$out/sanitizer_$tool.log"
done
echo "== benchmark"
official=.carry/official_baseline_h100.json
"$python" tests/benchmarks/bench_core_cuda.py --official "$official" --json "$out/bench_core_cuda.json" \
  2>&1 | tee "$out/bench_core_cuda.txt"
exit $status
