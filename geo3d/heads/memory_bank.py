"""Point-NN's training-free classifier: similarity to a memory bank of training features.

Zhang et al., CVPR 2023, section 3.3: with L2-normalised training features ``F (M, C)``
and their one-hot labels ``L (M, K)``, a test feature ``f`` gets
``logits = exp(-gamma * (1 - f F^T)) L``. The official script chooses gamma by a grid
search on the *test* set; :meth:`MemoryBankClassifier.select_gamma` chooses it on the
validation data it is given (pass the test set only to reproduce the paper's protocol,
and say so).
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.metrics.classification import overall_accuracy


def _normalize(features: torch.Tensor) -> torch.Tensor:
    return features / features.norm(dim=-1, keepdim=True).clamp(min=1e-12)


class MemoryBankClassifier(nn.Module):
    """``features (B, C) -> logits (B, num_classes)`` against a stored memory bank."""

    def __init__(self, num_classes: int, gamma: float = 100.0):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"'num_classes' must be at least 1 (got {num_classes})")
        self.num_classes = num_classes
        self.gamma = float(gamma)
        self.register_buffer("memory", torch.zeros(0, 0))
        self.register_buffer("memory_labels", torch.zeros(0, num_classes))

    def build(self, features: torch.Tensor, labels: torch.Tensor) -> MemoryBankClassifier:
        """Store ``features (M, C)`` (normalised) and ``labels (M,)`` (one-hot)."""
        if features.dim() != 2 or labels.shape != (features.shape[0],):
            raise ValueError(
                f"Expected 'features' (M, C) and 'labels' (M,) (got {tuple(features.shape)}, "
                f"{tuple(labels.shape)})"
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"'labels' must lie in [0, {self.num_classes})")
        self.memory = _normalize(features.detach())
        self.memory_labels = nn.functional.one_hot(labels, self.num_classes).to(features.dtype)
        return self

    def similarity(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``(B, M)`` of the features to the memory."""
        if self.memory.numel() == 0:
            raise RuntimeError(
                "the memory bank is empty: call build() with training features first"
            )
        return _normalize(features) @ self.memory.T

    def forward(self, features: torch.Tensor, gamma: float | None = None) -> torch.Tensor:
        gamma = self.gamma if gamma is None else gamma
        return torch.exp(-gamma * (1 - self.similarity(features))) @ self.memory_labels

    def select_gamma(self, features: torch.Tensor, labels: torch.Tensor, candidates=None) -> float:
        """Set and return the gamma of ``candidates`` with the best accuracy on the given
        (validation) data; ties go to the smallest. Default candidates: 0 to 10,000 in 100
        steps (the official grid is 0 to 9,998 by 2: pass ``range(0, 10000, 2)``)."""
        if candidates is None:
            candidates = torch.linspace(0, 10000, 101).tolist()
        similarity = self.similarity(features)
        best, best_accuracy = None, -1.0
        for gamma in candidates:
            predicted = (torch.exp(-gamma * (1 - similarity)) @ self.memory_labels).argmax(dim=1)
            accuracy = overall_accuracy(predicted, labels)
            if accuracy > best_accuracy:
                best, best_accuracy = float(gamma), accuracy
        self.gamma = best
        return best
