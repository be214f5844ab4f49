"""Semantic segmentation with GrootV encoders (segmentation_models_pytorch UperNet).

Run ``python -m groot_vision.segmentation --help`` for the train / eval / predict CLI.
"""

from .data import IGNORE_INDEX, LabelMapError, SegmentationFolder
from .inference import predict_probabilities
from .metrics import ConfusionMatrix
from .model import PaddedSegmenter, build_upernet

__all__ = [
    "IGNORE_INDEX",
    "ConfusionMatrix",
    "LabelMapError",
    "PaddedSegmenter",
    "SegmentationFolder",
    "build_upernet",
    "predict_probabilities",
]
