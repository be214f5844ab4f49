"""Building blocks shared by :mod:`groot_vision.detection` and :mod:`groot_vision.segmentation`."""

from .backbone import STRIDES, GrootVFeatures
from .fpn import GrootVFPN
from .weights import BackboneLoadReport, find_grootv, load_backbone_weights

__all__ = [
    "STRIDES",
    "BackboneLoadReport",
    "GrootVFPN",
    "GrootVFeatures",
    "find_grootv",
    "load_backbone_weights",
]
