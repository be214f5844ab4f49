"""``groot-demo`` / ``python -m groot_demo``: launch the demo on this machine."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the app until interrupted."""
    parser = argparse.ArgumentParser(
        prog="groot-demo", description="Interactive demo of tree-topology scanning (GrootVL)."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all; default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default %(default)s)")
    parser.add_argument(
        "--device",
        default=None,
        help="torch device for features, trees and scans (default: cuda if available, else cpu)",
    )
    args = parser.parse_args(argv)

    from .app import create_app, serve

    serve(create_app(args.device), args.host, args.port)


if __name__ == "__main__":
    main()
