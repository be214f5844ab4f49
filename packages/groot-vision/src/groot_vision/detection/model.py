"""torchvision Mask R-CNN / Faster R-CNN on a GrootV + FPN backbone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

from ..dense import GrootVFeatures, GrootVFPN

__all__ = ["DetectorKind", "build_detector"]

DetectorKind = Literal["mask_rcnn", "faster_rcnn"]


def build_detector(
    kind: DetectorKind = "mask_rcnn",
    backbone: str = "grootv_tiny",
    num_classes: int = 91,
    *,
    drop_path_rate: float | None = None,
    frozen_stages: int = -1,
    min_size: int | Sequence[int] = 800,
    max_size: int = 1333,
    fpn_channels: int = 256,
    **detector_kwargs,
) -> MaskRCNN | FasterRCNN:
    """A detector whose ``backbone`` is :class:`~groot_vision.dense.GrootVFPN`.

    Args:
        kind: ``"mask_rcnn"`` (boxes + masks) or ``"faster_rcnn"`` (boxes only).
        backbone: timm name of the GrootV variant.
        num_classes: classes including background (label 0); COCO category ids are used as labels.
        drop_path_rate, frozen_stages: see :class:`~groot_vision.dense.GrootVFeatures`.
        min_size: shorter image side during training and inference; a sequence picks one at random per
            training batch (multi-scale training of the 3× schedule).
        max_size: cap on the longer side.
        fpn_channels: width of the pyramid and of the mask head (torchvision's default is 256 for both).
        **detector_kwargs: passed on to torchvision's ``MaskRCNN`` / ``FasterRCNN``.
    """
    features = GrootVFeatures(backbone, drop_path_rate=drop_path_rate, frozen_stages=frozen_stages)
    if kind == "mask_rcnn":
        # torchvision accepts num_classes only with its default predictors; give all heads explicitly.
        detector_class = MaskRCNN
        detector_kwargs = {
            "box_predictor": FastRCNNPredictor(1024, num_classes),
            "mask_head": MaskRCNNHeads(fpn_channels, [fpn_channels] * 4, 1),
            "mask_predictor": MaskRCNNPredictor(fpn_channels, fpn_channels, num_classes),
            **detector_kwargs,
        }
    elif kind == "faster_rcnn":
        detector_class = FasterRCNN
        detector_kwargs = {"num_classes": num_classes, **detector_kwargs}
    else:
        raise ValueError(f"kind must be 'mask_rcnn' or 'faster_rcnn', got {kind!r}")
    return detector_class(
        GrootVFPN(features, fpn_channels),
        min_size=min_size,
        max_size=max_size,
        image_mean=list(IMAGENET_DEFAULT_MEAN),
        image_std=list(IMAGENET_DEFAULT_STD),
        **detector_kwargs,
    )
