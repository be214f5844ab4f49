#!/usr/bin/env bash
# Sets up everything and runs every test: the C++ core's ctest (CUDA sources compiled too when
# nvcc is present), the C++ example built against the *installed* core, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test
# The demo's browser test drives Debian's Chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -q && $sudo apt-get install -y -q chromium
fi
bin=$(cd "${GROOT_VENV:-.venv}/bin" && pwd)
command -v nvcc >/dev/null && cuda=ON || cuda=OFF

echo "== C++ core (CUDA kernels compiled: $cuda): build, ctest, install"
"$bin/cmake" -S cpp -B build/cpp -G Ninja -DCMAKE_MAKE_PROGRAM="$bin/ninja" \
  -DCMAKE_BUILD_TYPE=Release -DGROOT_ENABLE_CUDA=$cuda
"$bin/cmake" --build build/cpp
"$bin/ctest" --test-dir build/cpp --output-on-failure
rm -rf build/install build/example
"$bin/cmake" --install build/cpp --prefix build/install

echo "== C++ example, built against the installed package"
"$bin/cmake" -S cpp/examples/basic -B build/example -G Ninja -DCMAKE_MAKE_PROGRAM="$bin/ninja" \
  -DCMAKE_PREFIX_PATH="$PWD/build/install"
"$bin/cmake" --build build/example
build/example/basic

echo "== pytest"
"$bin/python" -m pytest tests -m "not benchmark"
echo "== benchmarks, one untimed round each as a smoke test (timed: pytest tests/benchmarks -m benchmark)"
# The pure-PyTorch reference takes minutes at benchmark size; it is timed, not smoke-tested.
"$bin/python" -m pytest tests/benchmarks -m benchmark --benchmark-disable -q -k "not reference"
