"""COCO box and mask AP of detector outputs, through pycocotools."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable

import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

__all__ = ["STAT_NAMES", "coco_results", "evaluate_coco"]

# The 12 numbers COCOeval.summarize() prints, in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_results(
    outputs: Iterable[dict[str, torch.Tensor]], image_ids: Iterable[int], mask_threshold: float = 0.5
) -> list[dict]:
    """torchvision detector outputs -> COCO result records (``bbox`` XYWH, ``segmentation`` RLE if masks)."""
    records = []
    for output, image_id in zip(outputs, image_ids, strict=True):
        boxes = output["boxes"].detach().cpu().clone()
        boxes[:, 2:] -= boxes[:, :2]
        masks = output.get("masks")
        rles = None
        if masks is not None:
            binary = (masks[:, 0] > mask_threshold).cpu().numpy().astype(np.uint8)
            rles = mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
        for k, (box, score, label) in enumerate(
            zip(boxes.tolist(), output["scores"].tolist(), output["labels"].tolist(), strict=True)
        ):
            record = {"image_id": int(image_id), "category_id": int(label), "bbox": box, "score": score}
            if rles is not None:
                rle = rles[k]
                record["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            records.append(record)
    return records


def evaluate_coco(coco: COCO, results: list[dict], iou_types: Iterable[str] = ("bbox", "segm")) -> dict:
    """``{"bbox_AP": ..., "segm_AP50": ..., ...}`` in [0, 1]; all zeros when there are no detections.

    Only images present in ``results``' source (all of ``coco``'s images) are scored.
    """
    metrics = {}
    for iou_type in iou_types:
        if not results:
            stats = np.zeros(len(STAT_NAMES))
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress to stdout
                evaluator = COCOeval(coco, coco.loadRes(results), iou_type)
                evaluator.params.imgIds = sorted(coco.getImgIds())
                evaluator.evaluate()
                evaluator.accumulate()
                evaluator.summarize()
            stats = np.maximum(evaluator.stats, 0.0)  # -1 means "no such objects": report 0
        metrics.update({f"{iou_type}_{name}": float(v) for name, v in zip(STAT_NAMES, stats, strict=True)})
    return metrics
