"""Settings of the GrootL tree branch, stored in the model config under ``"grootl"``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = ["CONFIG_KEY", "GrootLConfig"]

CONFIG_KEY = "grootl"

Span = Literal["prompt", "sequence"]


@dataclass(frozen=True)
class GrootLConfig:
    """How the tree branch of every Mamba mixer is built and mixed in.

    The defaults are the paper's GrootL (see ``docs`` in the package README).

    Attributes:
        scale: weight s of the tree branch, ``h = chain + s · tree``; 0 gives plain Mamba.
        k: graph window: a token inside the span is linked to its previous ``k`` tokens.
        metric: edge dissimilarity of the ``Δ·B·u`` features; only the paper's ``"cosine"``.
        span: which tokens get the k-window graph: ``"prompt"`` (the first ``prompt_length``
            tokens, later ones are linked only to their predecessor) or ``"sequence"`` (all).
        per_sequence_span: use each sequence's own prompt length; the paper (``False``) uses the
            shortest prompt of the batch for every sequence.
        causal: strictly causal rule: positions before the span's last token read the chain
            instead of the tree, so no output depends on a later token.
    """

    scale: float = 0.3
    k: int = 3
    metric: Literal["cosine"] = "cosine"
    span: Span = "prompt"
    per_sequence_span: bool = False
    causal: bool = False

    def __post_init__(self) -> None:
        if self.scale < 0:
            raise ValueError(f"scale must be >= 0, got {self.scale}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.metric != "cosine":
            raise ValueError(f"metric must be 'cosine', got {self.metric!r}")
        if self.span not in ("prompt", "sequence"):
            raise ValueError(f"span must be 'prompt' or 'sequence', got {self.span!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form, as stored in ``config.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GrootLConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (they mean a newer groot-lang)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown GrootL settings {sorted(unknown)}")
        return cls(**values)
