#!/usr/bin/env bash
# Sets up .venv with torch and every groot package. Usage: scripts/setup.sh [--test]
# torch already in the venv is kept; otherwise torch 2.14.1 + torchvision 0.29.1 are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${GROOT_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "groot's workspace needs Python >= 3.11 (groot-lang's transformers does); $venv has $("$py" --version)" >&2
  exit 1
fi
pip() { "$py" -m pip --disable-pip-version-check -q "$@"; }

pip install --upgrade pip
if ! "$py" -c "import torch" 2>/dev/null; then
  pip install torch==2.14.1 torchvision==0.29.1
elif ! "$py" -c "import torchvision" 2>/dev/null; then
  # Keep the torch that is there; take the torchvision built for it.
  pip install torchvision "torch==$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')"
fi

extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
# groot-core compiles against the torch in the venv, so it builds without isolation.
pip install scikit-build-core nanobind ninja "cmake>=3.19"
pip install --no-build-isolation "./packages/groot-core$extra"
for package in groot-vision groot-lang groot-demo; do
  [ -d "packages/$package" ] && pip install "./packages/$package$extra"
done
echo "groot is set up in $venv"
