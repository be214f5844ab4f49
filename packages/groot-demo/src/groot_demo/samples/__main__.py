"""``python -m groot_demo.samples [DIR]``: redraw the bundled sample images (into DIR if given)."""

import sys

from .generate import main

main(*sys.argv[1:2])
