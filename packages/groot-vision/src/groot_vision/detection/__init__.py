"""Object detection and instance segmentation with GrootV backbones (torchvision Mask / Faster R-CNN).

Run ``python -m groot_vision.detection --help`` for the train / eval / predict CLI.
"""

from .coco_eval import coco_results, evaluate_coco
from .data import CocoDataError, load_coco
from .model import build_detector

__all__ = ["CocoDataError", "build_detector", "coco_results", "evaluate_coco", "load_coco"]
