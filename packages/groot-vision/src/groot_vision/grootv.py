"""GrootV: tree-topology state-space vision backbones.

Paper: "GrootVL: Tree Topology is All You Need in State Space Model", Yicheng Xiao, Lin Song, Shaoli
Huang, Jiangshan Wang, Siyu Song, Yixiao Ge, Xiu Li, Ying Shan. arXiv:2406.02395, 2024.

    @article{xiao2024grootvl,
      title={GrootVL: Tree Topology is All You Need in State Space Model},
      author={Xiao, Yicheng and Song, Lin and Huang, Shaoli and Wang, Jiangshan and Song, Siyu and
              Ge, Yixiao and Li, Xiu and Shan, Ying},
      journal={arXiv preprint arXiv:2406.02395},
      year={2024}
    }

Module and parameter names reproduce the released checkpoints' ``state_dict`` layout, so those files load
with ``strict=True``; this is why some norms sit inside one-element ``nn.Sequential`` wrappers and why the
mixer attribute is called ``TreeSSM``. Feature maps between layers are channels-last ``(B, H, W, C)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import DropPath, Mlp, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from torch import nn
from torch.utils.checkpoint import checkpoint

from .checkpoint import checkpoint_filter_fn, safe_checkpoint_globals
from .fusion import FusedLayerNorm
from .grid_scans import Metric, Scan, TreeScope
from .tree_ssm import TreeSSM

__all__ = ["GrootV", "GrootVBlock", "GrootVStage"]

_NORM_EPS = 1e-6


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module, to switch between channels-first and channels-last."""

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class Stem(nn.Module):
    """Two 3x3 stride-2 convs with LN/GELU between: ``(B, 3, H, W)`` -> ``(B, ceil(H/4), ceil(W/4), C)``.

    ``fuse``: compile the layer norms (see :class:`~groot_vision.fusion.FusedLayerNorm`).
    """

    def __init__(self, in_chans: int, out_chans: int, *, fuse: bool | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans // 2, 3, stride=2, padding=1)
        self.norm1 = nn.Sequential(
            Permute(0, 2, 3, 1), FusedLayerNorm(out_chans // 2, eps=_NORM_EPS, fuse=fuse), Permute(0, 3, 1, 2)
        )
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(out_chans // 2, out_chans, 3, stride=2, padding=1)
        self.norm2 = nn.Sequential(Permute(0, 2, 3, 1), FusedLayerNorm(out_chans, eps=_NORM_EPS, fuse=fuse))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))


class Downsample(nn.Module):
    """3x3 stride-2 conv doubling the width, then LN: ``(B, H, W, C)`` -> ``(B, ⌈H/2⌉, ⌈W/2⌉, 2C)``."""

    def __init__(self, dim: int, *, fuse: bool | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, 2 * dim, 3, stride=2, padding=1, bias=False)
        self.norm = nn.Sequential(Permute(0, 2, 3, 1), FusedLayerNorm(2 * dim, eps=_NORM_EPS, fuse=fuse))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2)))


class GrootVBlock(nn.Module):
    """Pre-norm residual block: ``x + DropPath(TreeSSM(LN x))``, then ``x + DropPath(MLP(LN x))``."""

    def __init__(
        self, dim: int, *, mlp_ratio: float = 4.0, drop_path: float = 0.0, **ssm_kwargs: Any
    ) -> None:
        super().__init__()
        # Each pre-norm feeds only a linear layer (the mixer's and the MLP's input projection).
        fuse = ssm_kwargs.get("fuse_elementwise")
        self.norm1 = nn.Sequential(FusedLayerNorm(dim, eps=_NORM_EPS, fuse=fuse, feeds_autocast=True))
        self.TreeSSM = TreeSSM(dim, **ssm_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.Sequential(FusedLayerNorm(dim, eps=_NORM_EPS, fuse=fuse, feeds_autocast=True))
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, x: torch.Tensor, tree: Any = None) -> tuple[torch.Tensor, Any]:
        """``x`` ``(B, H, W, C)``; ``tree`` reuses a grid tree built by an earlier block (or ``None``)."""
        x, branch, tree = self.forward_unsummed(x, None, tree)
        return x + branch, tree

    def forward_unsummed(
        self, x: torch.Tensor, pending: torch.Tensor | None, tree: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """The block on ``x + pending`` (``pending``: an earlier block's last branch, or ``None``),
        leaving its own last branch unsummed: returns ``(x', branch, tree)``, the block's output
        being ``x' + branch``.

        Each residual add is left to the layer norm that reads its sum next, which does both in
        one kernel where it compiles (:meth:`~groot_vision.fusion.FusedLayerNorm.add_and_norm`).
        """
        if pending is None:
            normed = self.norm1(x)
        else:
            x, normed = self.norm1[0].add_and_norm(x, pending)
        mixed, tree = self.TreeSSM(normed, tree)
        x, normed = self.norm2[0].add_and_norm(x, self.drop_path(mixed))
        return x, self.drop_path(self.mlp(normed)), tree


class GrootVStage(nn.Module):
    """Blocks at one resolution, a final LN, then (except in the last stage) the downsampling to the next.

    ``tree_scope="stage"`` builds the grid tree once, in the first block, and reuses it in the others.
    The blocks run through :meth:`GrootVBlock.forward_unsummed`, each handing its last branch to the
    next one's first norm, so hooks on a block's own ``forward`` do not fire here (hooks on its
    submodules do).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        *,
        drop_path: Sequence[float],
        downsample: bool,
        tree_scope: TreeScope = "block",
        mlp_ratio: float = 4.0,
        **ssm_kwargs: Any,
    ) -> None:
        super().__init__()
        if tree_scope not in ("block", "stage"):
            raise ValueError(f"tree_scope must be 'block' or 'stage', got {tree_scope!r}")
        self.share_tree = tree_scope == "stage"
        self.grad_checkpointing = False
        self.blocks = nn.ModuleList(
            GrootVBlock(dim, mlp_ratio=mlp_ratio, drop_path=drop_path[i], **ssm_kwargs) for i in range(depth)
        )
        fuse = ssm_kwargs.get("fuse_elementwise")
        self.norm = nn.Sequential(FusedLayerNorm(dim, eps=_NORM_EPS, fuse=fuse))
        self.downsample = Downsample(dim, fuse=fuse) if downsample else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, H, W, C)`` -> (this stage's normalised features, the next stage's input)."""
        tree = branch = None
        for block in self.blocks:
            if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
                x, branch, tree = checkpoint(block.forward_unsummed, x, branch, tree, use_reentrant=False)
            else:
                x, branch, tree = block.forward_unsummed(x, branch, tree)
            if not self.share_tree:
                tree = None
        features = self.norm[0](x, branch)
        return features, features if self.downsample is None else self.downsample(features)


class GrootV(nn.Module):
    """GrootV classifier / backbone.

    Args:
        in_chans: input image channels.
        num_classes: classifier outputs (0 for no classifier).
        channels: width of the first stage; stage i has ``channels * 2**i``.
        depths: blocks per stage.
        mlp_ratio: MLP hidden width / block width.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, increasing linearly over all blocks up to this value.
        head_scale: width of the 1x1-conv head relative to the last stage.
        scan: ``"tree"`` (paper), ``"raster"`` or ``"cross"``.
        metric: ``"cosine"`` (paper), ``"l1"`` or ``"l2"``: the distance whose MST is the tree.
        tree_scope: ``"block"`` (paper: a tree per block) or ``"stage"`` (one tree per stage).
        force_fp32_scan: keep the scan arithmetic in float32 under autocast (paper).
        recompute_elementwise: recompute the elementwise steps around each scan in the backward pass
            instead of storing their outputs (same results, less memory).
        fuse_elementwise: compile those elementwise steps and the layer norms into fused kernels
            (``None``: on CUDA with Triton); see :mod:`groot_vision.fusion`.
        global_pool: ``"avg"`` (only pooling the released heads use).
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        channels: int = 80,
        depths: Sequence[int] = (2, 2, 9, 2),
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        head_scale: float = 1.5,
        scan: Scan = "tree",
        metric: Metric = "cosine",
        tree_scope: TreeScope = "block",
        force_fp32_scan: bool = True,
        recompute_elementwise: bool = True,
        fuse_elementwise: bool | None = None,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if global_pool != "avg":
            raise ValueError(f"GrootV supports global_pool='avg' only, got {global_pool!r}")
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.drop_rate = drop_rate
        self.grad_checkpointing = False
        num_stages = len(depths)
        widths = [channels * 2**i for i in range(num_stages)]
        self.num_features = widths[-1]
        self.head_hidden_size = int(widths[-1] * head_scale)

        self.patch_embed = Stem(in_chans, channels, fuse=fuse_elementwise)
        num_blocks = sum(depths)
        dpr = [drop_path_rate * i / max(num_blocks - 1, 1) for i in range(num_blocks)]
        self.levels = nn.ModuleList()
        self.feature_info = []
        for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            self.levels.append(
                GrootVStage(
                    width,
                    depth,
                    drop_path=dpr[sum(depths[:i]) : sum(depths[: i + 1])],
                    downsample=i < num_stages - 1,
                    tree_scope=tree_scope,
                    mlp_ratio=mlp_ratio,
                    scan=scan,
                    metric=metric,
                    force_fp32_scan=force_fp32_scan,
                    recompute_elementwise=recompute_elementwise,
                    fuse_elementwise=fuse_elementwise,
                )
            )
            self.feature_info.append(dict(num_chs=width, reduction=4 * 2**i, module=f"levels.{i}"))
        self.conv_head = nn.Sequential(
            nn.Conv2d(self.num_features, self.head_hidden_size, 1, bias=False),
            nn.Sequential(nn.BatchNorm2d(self.head_hidden_size)),
            nn.GELU(),
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """SSM parameters kept out of weight decay, as in Mamba (biases and norms are excluded by timm)."""
        return {name for name, _ in self.named_parameters() if name.endswith((".A_logs", ".Ds"))}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for layer-wise lr decay (timm convention)."""
        return dict(
            stem=r"^patch_embed",
            blocks=r"^levels\.(\d+)"
            if coarse
            else [(r"^levels\.(\d+)\.blocks\.(\d+)", None), (r"^conv_head", (99999,))],
        )

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable
        for level in self.levels:
            level.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """Replace the classifier; ``reset_other`` also drops the conv head (pooled features are then raw)."""
        if global_pool is not None and global_pool != "avg":
            raise ValueError(f"GrootV supports global_pool='avg' only, got {global_pool!r}")
        self.num_classes = num_classes
        if reset_other:
            self.conv_head = nn.Identity()
            self.head_hidden_size = self.num_features
        self.head = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Stage outputs (strides 4, 8, 16, 32) for dense-prediction necks.

        Args:
            x: images ``(B, C, H, W)``.
            indices: stages to return (last n if int, all if None).
            norm: unused, each stage output is already layer-normalised.
            stop_early: stop after the last requested stage.
            output_fmt: ``"NCHW"`` or ``"NHWC"``.
            intermediates_only: return only the list of stage outputs.
        Returns:
            The stage outputs, or (final features ``(B, H/32, W/32, C)``, stage outputs).
        """
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NHWC', got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.levels), indices)
        levels = self.levels[: max_index + 1] if stop_early else self.levels
        intermediates = []
        x = self.patch_embed(x)
        features = x
        for i, level in enumerate(levels):
            features, x = level(x)
            if i in take_indices:
                intermediates.append(features.permute(0, 3, 1, 2) if output_fmt == "NCHW" else features)
        if intermediates_only:
            return intermediates
        return features, intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages, downsampling and head that the requested intermediates do not need."""
        take_indices, max_index = feature_take_indices(len(self.levels), indices)
        self.levels = self.levels[: max_index + 1]
        self.levels[-1].downsample = None
        if prune_head or max_index < len(self.feature_info) - 1:
            self.num_features = self.feature_info[max_index]["num_chs"]
            self.reset_classifier(0, reset_other=True)
        return take_indices

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> last-stage features ``(B, ceil(H/32), ceil(W/32), 8 * channels)``."""
        x = self.patch_embed(x)
        features = x
        for level in self.levels:
            features, x = level(x)
        return features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Last-stage features ``(B, H, W, C)`` -> logits ``(B, num_classes)`` (or pooled features)."""
        x = self.conv_head(x.permute(0, 3, 1, 2)).mean(dim=(2, 3))
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` of any size -> logits ``(B, num_classes)``."""
        return self.forward_head(self.forward_features(x))


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.conv1",
        "classifier": "head",
        "license": "mit",
        "paper_ids": "arXiv:2406.02395",
        "paper_name": "GrootVL: Tree Topology is All You Need in State Space Model",
        "origin_url": "https://github.com/EasonXiao-888/GrootVL",
        **kwargs,
    }


default_cfgs = generate_default_cfgs(
    {
        "grootv_tiny.in1k": _cfg(),
        "grootv_small.in1k": _cfg(),
        "grootv_base.in1k": _cfg(),
        # Not from the paper: a small model for the synthetic long-range ablation and CI.
        "grootv_micro.untrained": _cfg(
            num_classes=2,
            input_size=(3, 64, 64),
            pool_size=(2, 2),
            crop_pct=1.0,
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
        ),
    }
)


def _create_grootv(variant: str, pretrained: bool = False, **kwargs: Any) -> GrootV:
    # Released files carry a pickled training config next to the weights; let timm's weights-only load
    # accept it as inert data.
    with safe_checkpoint_globals():
        return build_model_with_cfg(
            GrootV,
            variant,
            pretrained,
            pretrained_filter_fn=checkpoint_filter_fn,
            feature_cfg=dict(out_indices=(0, 1, 2, 3), feature_cls="getter"),
            **kwargs,
        )


@register_model
def grootv_tiny(pretrained: bool = False, **kwargs: Any) -> GrootV:
    """GrootV-T: 80 channels, depths (2, 2, 9, 2), 29.96 M parameters."""
    return _create_grootv(
        "grootv_tiny", pretrained, **{**dict(channels=80, depths=(2, 2, 9, 2), drop_path_rate=0.1), **kwargs}
    )


@register_model
def grootv_small(pretrained: bool = False, **kwargs: Any) -> GrootV:
    """GrootV-S: 96 channels, depths (2, 2, 13, 2), 51.33 M parameters."""
    return _create_grootv(
        "grootv_small",
        pretrained,
        **{**dict(channels=96, depths=(2, 2, 13, 2), drop_path_rate=0.3), **kwargs},
    )


@register_model
def grootv_base(pretrained: bool = False, **kwargs: Any) -> GrootV:
    """GrootV-B: 128 channels, depths (2, 2, 13, 2), 90.60 M parameters."""
    return _create_grootv(
        "grootv_base",
        pretrained,
        **{**dict(channels=128, depths=(2, 2, 13, 2), drop_path_rate=0.5), **kwargs},
    )


@register_model
def grootv_micro(pretrained: bool = False, **kwargs: Any) -> GrootV:
    """A 2.0 M-parameter GrootV (32 channels, depths (1, 1, 2, 1)) for small experiments; not in the paper."""
    return _create_grootv(
        "grootv_micro", pretrained, **{**dict(channels=32, depths=(1, 1, 2, 1), drop_path_rate=0.0), **kwargs}
    )
