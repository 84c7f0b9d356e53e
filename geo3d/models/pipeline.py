"""One pipeline for classifiers, segmenters and detectors (shared/DESIGN.md).

``Pipeline(preprocess, encoder, neck, head)``: ``forward`` takes tensors and returns a
tensor (no dicts threaded through modules: they block export); ``loss(outputs, targets)``
and ``predict(outputs)`` are separate methods, so training, evaluation and deployment
share one forward. Classifiers, segmenters and detectors differ only in their parts and
in the loss and prediction they are given.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def classification_loss(label_smoothing: float = 0.0) -> Callable:
    """Cross-entropy on ``logits (B, K)`` and ``labels (B,)``, with label smoothing."""

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "loss": nn.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        }

    return loss


def argmax_prediction(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)


class Pipeline(nn.Module):
    """``preprocess -> encoder -> neck -> head`` with a loss and a prediction rule.

    Args:
        encoder, head: required modules; preprocess and neck default to identity.
        loss_fn: ``(outputs, targets) -> {"loss": scalar, ...}``.
        predict_fn: ``outputs -> predictions`` (default: argmax over the last dim).
        trainable: False for training-free models (the engine then skips the optimiser
            and calls :meth:`fit` instead).
    """

    def __init__(
        self,
        encoder: nn.Module,
        head: nn.Module,
        preprocess: nn.Module | None = None,
        neck: nn.Module | None = None,
        loss_fn: Callable | None = None,
        predict_fn: Callable = argmax_prediction,
        trainable: bool = True,
    ):
        super().__init__()
        self.preprocess = preprocess or nn.Identity()
        self.encoder = encoder
        self.neck = neck or nn.Identity()
        self.head = head
        self.loss_fn = loss_fn or classification_loss()
        self.predict_fn = predict_fn
        self.trainable = trainable

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.neck(self.encoder(self.preprocess(inputs)))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.loss_fn(outputs, targets)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.predict_fn(outputs)

    @torch.no_grad()
    def fit(self, batches) -> None:
        """Training-free models: build the head from ``(inputs, targets)`` batches."""
        features, targets = [], []
        for inputs, labels in batches:
            features.append(self.features(inputs))
            targets.append(labels)
        self.head.build(torch.cat(features), torch.cat(targets))
