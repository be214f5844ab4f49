"""groot-core built by a GCC that has only a static libstdc++ (as the GPU image's /opt/gcc is).

Such a compiler would put a private C++ runtime into the extension, beside the libstdc++.so.6 that
torch runs on; with it, formatting an error message broke (cut short here, a segfault there). The
build must detect the compiler and link torch's libstdc++ instead (cmake/SharedCxxRuntime.cmake).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GXX = shutil.which("g++")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or GXX is None or shutil.which("readelf") is None,
    reason="needs Linux with g++ and readelf",
)

# A g++ that reports no shared libstdc++ and links the static one, as such installs do.
STATIC_ONLY_GXX = f"""#!/bin/sh
for arg in "$@"; do
  [ "$arg" = "-print-file-name=libstdc++.so" ] && {{ echo libstdc++.so; exit 0; }}
done
exec {GXX} -static-libstdc++ "$@"
"""

# Loads the freshly built module (registering torch.ops.groot) and provokes an argument error.
PROBE = """
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location("groot_core._C", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
try:
    torch.ops.groot.edge_weights(torch.randn(3, 4), torch.zeros(2, 2, dtype=torch.long), "cosine")
except ValueError as err:
    print(str(err).splitlines()[0])
"""


def tool(name: str) -> str:
    """A build tool from this interpreter's environment (the venv's cmake and ninja), else PATH."""
    found = shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_static_only_gcc_links_torchs_libstdcxx(tmp_path: Path) -> None:
    compiler = tmp_path / "g++"
    compiler.write_text(STATIC_ONLY_GXX)
    compiler.chmod(0o755)
    nanobind_dir = subprocess.run(
        [sys.executable, "-m", "nanobind", "--cmake_dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    build = tmp_path / "build"
    configure = [
        tool("cmake"), "-S", str(ROOT / "packages/groot-core"), "-B", str(build), "-G", "Ninja",
        f"-DCMAKE_MAKE_PROGRAM={tool('ninja')}", "-DCMAKE_BUILD_TYPE=Release",
        "-DGROOT_ENABLE_CUDA=OFF", f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dnanobind_DIR={nanobind_dir}",
    ]  # fmt: skip
    env = {**os.environ, "CXX": str(compiler)}
    log = subprocess.run(configure, capture_output=True, text=True, env=env)
    assert log.returncode == 0, log.stdout + log.stderr
    made = subprocess.run(
        [tool("cmake"), "--build", str(build), "--target", "_C"], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stdout[-4000:] + made.stderr[-4000:]

    for library in [build / "libgroot_torch.so", *build.glob("_C*.so")]:
        dynamic = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True)
        assert "[libstdc++.so.6]" in dynamic.stdout, f"{library.name} carries its own libstdc++"

    (module,) = build.glob("_C*.so")
    probe = subprocess.run([sys.executable, "-c", PROBE, str(module)], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr[-4000:]
    assert "features must have shape (B, C, L), got 2 dimensions [3, 4]" in probe.stdout
