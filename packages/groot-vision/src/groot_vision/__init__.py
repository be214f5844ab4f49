"""GrootV vision backbones (arXiv 2406.02395) on groot_core's tree scan.

Importing this package registers ``grootv_tiny``, ``grootv_small``, ``grootv_base`` and ``grootv_micro``
with timm, so ``timm.create_model("grootv_tiny", ...)`` works.
"""

from .checkpoint import UnsafeCheckpointError, load_checkpoint, load_state_dict
from .grootv import GrootV, GrootVBlock, GrootVStage, grootv_base, grootv_micro, grootv_small, grootv_tiny
from .tree_ssm import TreeSSM

__version__ = "0.1.0"

__all__ = [
    "GrootV",
    "GrootVBlock",
    "GrootVStage",
    "TreeSSM",
    "UnsafeCheckpointError",
    "grootv_base",
    "grootv_micro",
    "grootv_small",
    "grootv_tiny",
    "load_checkpoint",
    "load_state_dict",
]
