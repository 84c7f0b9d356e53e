"""One pipeline for classifiers, segmenters and detectors (docs/ARCHITECTURE.md).

``Pipeline(preprocess, encoder, neck, head)``: ``forward(*inputs)`` takes tensors and
returns a tensor (no dicts threaded through modules: they block export). ``preprocess``
does the data-dependent index work (voxelization, neighbour indices, partitions), so what
follows it is tensors in, tensors out: the part an exporter writes to ONNX. A part that
returns a tuple hands its elements to the next part as separate arguments (MeshCNN's
encoders return ``(features, mesh)``). ``loss(outputs, targets)``
and ``predict(outputs)`` are separate methods, so training, evaluation and deployment
share one forward. Classifiers, segmenters and detectors differ only in their parts and
in the loss and prediction they are given.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from geo3d.losses import classification_loss


def argmax_prediction(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)


class Pipeline(nn.Module):
    """``preprocess -> encoder -> neck -> head`` with a loss and a prediction rule.

    Args:
        encoder, head: required modules; preprocess and neck are skipped when ``None``.
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
        self.preprocess = preprocess
        self.encoder = encoder
        self.neck = neck
        self.head = head
        self.loss_fn = loss_fn or classification_loss()
        self.predict_fn = predict_fn
        self.trainable = trainable

    def features(self, *inputs):
        """What the head sees: ``neck(encoder(preprocess(*inputs)))``."""
        x = inputs if self.preprocess is None else _call(self.preprocess, inputs)
        x = _call(self.encoder, x)
        return x if self.neck is None else _call(self.neck, x)

    def forward(self, *inputs) -> torch.Tensor:
        return _call(self.head, self.features(*inputs))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.loss_fn(outputs, targets)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.predict_fn(outputs)

    @torch.no_grad()
    def fit(self, batches) -> None:
        """Training-free models: build the head from ``(inputs, targets)`` batches."""
        features, targets = [], []
        for inputs, labels in batches:
            inputs = inputs if isinstance(inputs, tuple | list) else (inputs,)
            features.append(self.features(*inputs))
            targets.append(labels)
        self.fit_features(torch.cat(features), torch.cat(targets))

    @torch.no_grad()
    def fit_features(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """Training-free models: build the head from encoded ``features (M, C)`` and their
        ``targets (M,)`` (the engine encodes over several processes, then calls this)."""
        self.head.build(features, targets)


def _call(module: nn.Module, value):
    """``module(*value)`` for a tuple of tensors, ``module(value)`` for one tensor."""
    return module(*value) if isinstance(value, tuple) else module(value)
