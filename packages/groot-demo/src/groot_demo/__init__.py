"""groot-demo: an interactive Gradio demo of tree-topology scanning (GrootVL).

The visualisations live in :mod:`groot_demo.visualize` (arrays and PIL images, no Gradio); the web
app in :mod:`groot_demo.app`; ``groot-demo`` / ``python -m groot_demo`` launches it.
"""

__version__ = "0.1.0"
