"""``python -m groot_demo``: serves the page on the requested host and port and prints the URL."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request


def test_module_launch_prints_the_url_and_serves(free_port: int) -> None:
    port = free_port
    command = [
        sys.executable,
        "-m",
        "groot_demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as server:
        try:
            lines = []
            for line in server.stdout:  # blocks until the server prints; the test's timeout is CI's
                lines.append(line)
                if "running at" in line:
                    break
            assert f"groot-demo running at http://127.0.0.1:{port}/" in "".join(lines), "".join(lines)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
                assert page.status == 200
                assert "groot: tree-topology scanning" in page.read().decode()
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "groot_demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "--port" in result.stdout and "--host" in result.stdout and "--device" in result.stdout
