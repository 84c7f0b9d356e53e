"""DSVT's transformer over sparse voxels (Wang et al., CVPR 2023), as OpenPCDet's
``backbones_3d/dsvt.py`` computes it; the index work (sets, masks, in-window coordinates)
comes from :func:`geo3d.ops.set_partition` in ``preprocess``.

Per block: two encoder layers, one per rotated ordering of the block's partition (shift
``block % 2``); each layer gathers the sets' voxel features, attends within every set (query
= key = features + a learned embedding of the in-window position, value = features, slots
that repeat a voxel masked), writes each voxel's output back from its last occurrence, then
residual + LayerNorm, FFN (d -> ffn -> d, GELU), residual + LayerNorm (``SetAttention``),
wrapped in another residual + LayerNorm (``DSVT_EncoderLayer``); the block itself is wrapped
in a third (``residual_norm_stage``). Position embeddings: ``Linear(2 -> d), BatchNorm1d,
ReLU, Linear(d -> d)`` on the in-window coordinates minus half the window (x, y for flat
windows), one per (block, shift).

Official quirk kept by default (the published weights and numbers have it): a block's
second layer uses the shift-1 position embedding and its first the shift-0 one, whatever
the block's shift (``DSVTBlock`` indexes the embeddings by layer, not by shift).
``official_position_quirk=False`` uses the embedding of the shift the block attends with.
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.ops.set_partition import SetPartition


def last_occurrence(flat: torch.Tensor, count: int) -> torch.Tensor:
    """``flat (K,)`` voxel rows (every row in ``[0, count)`` at least once) -> ``(count,)``
    the position of each row's last occurrence: the official scatter-back (``unique`` +
    ``flip``) without ``unique``, deterministic on every device."""
    positions = torch.arange(flat.shape[0], device=flat.device)
    last = torch.full((count,), -1, dtype=torch.long, device=flat.device)
    return last.scatter_reduce(0, flat, positions, reduce="amax")


def scatter_back_indices(sets: torch.Tensor, count: int) -> torch.Tensor:
    """``sets (2, S, T)`` of one partition -> ``(2, count)``: per ordering, where each
    voxel's attended feature is read back (:func:`last_occurrence` of the flattened sets)."""
    return torch.stack([last_occurrence(s.reshape(-1), count) for s in sets])


class SetAttention(nn.Module):
    """``(features (N, d), sets (S, T), masks (S, T), position (N, d)) -> (N, d)``: attention
    within each set, the voxel's last occurrence written back, then residual + LayerNorm,
    FFN, residual + LayerNorm (the official ``SetAttention``)."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float = 0.0):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, ffn), nn.Linear(ffn, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = (nn.Dropout(dropout) for _ in range(3))
        self.activation = nn.GELU()

    def forward(self, features, sets, masks, position, back=None):
        """``back (N,)``: :func:`last_occurrence` of ``sets``, computed here unless given
        (an exported core takes it as an input: its ``scatter_reduce`` is index work)."""
        grouped = features[sets]  # (S, T, d)
        query = grouped + position[sets]
        attended, _ = self.attention(
            query, query, grouped, key_padding_mask=masks, need_weights=False
        )
        if back is None:
            back = last_occurrence(sets.reshape(-1), features.shape[0])
        attended = attended.reshape(-1, features.shape[1])[back]
        out = self.norm1(features + self.dropout1(attended))
        update = self.linear2(self.dropout(self.activation(self.linear1(out))))
        return self.norm2(out + self.dropout2(update))


class DSVTEncoderLayer(nn.Module):
    """:class:`SetAttention` wrapped in residual + LayerNorm (``DSVT_EncoderLayer``)."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float = 0.0):
        super().__init__()
        self.set_attention = SetAttention(d_model, heads, ffn, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, features, sets, masks, position, back=None):
        return self.norm(features + self.set_attention(features, sets, masks, position, back))


class PositionEmbedding(nn.Module):
    """In-window coordinates ``(N, 3)`` ``(z, y, x)`` -> ``(N, d)``: the coordinates minus
    half the window (x, y only for flat windows, x, y, z otherwise), then ``Linear ->
    BatchNorm1d -> ReLU -> Linear`` (``PositionEmbeddingLearned``)."""

    def __init__(self, window: tuple[int, int, int], d_model: int):
        super().__init__()
        self.window = tuple(window)
        self.flat = self.window[0] == 1
        dims = 2 if self.flat else 3
        self.layers = nn.Sequential(
            nn.Linear(dims, d_model),
            nn.BatchNorm1d(d_model),
            nn.ReLU(),
            nn.Linear(d_model, d_model),
        )

    def forward(self, coords_in_window: torch.Tensor) -> torch.Tensor:
        wz, wy, wx = self.window
        local = coords_in_window.float()
        x, y, z = local[:, 2] - wx / 2, local[:, 1] - wy / 2, local[:, 0] - wz / 2
        location = torch.stack((x, y) if self.flat else (x, y, z), dim=-1)
        return self.layers(location.to(self.layers[0].weight.dtype))


class DSVTBlock(nn.Module):
    """Two encoder layers on one partition's rotated sets (order 0 then order 1)."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            DSVTEncoderLayer(d_model, heads, ffn, dropout) for _ in range(2)
        )

    def forward(
        self,
        features,
        partition: SetPartition,
        positions: tuple[torch.Tensor, torch.Tensor],
        backs: torch.Tensor | None = None,
    ):
        """``backs (2, N)``: :func:`scatter_back_indices` of the partition, or None."""
        for order, layer in enumerate(self.layers):
            back = None if backs is None else backs[order]
            features = layer(
                features, partition.sets[order], partition.masks[order], positions[order], back
            )
        return features


class DSVT(nn.Module):
    """One stage of DSVT blocks over voxel features: ``(features (N, d), partitions (shift 0,
    shift 1)) -> (N, d)``; block ``b`` attends with partition ``b % 2`` (module docstring).

    ``windows``: the two partitions' window shapes ``(wz, wy, wx)`` (the pillar model: 12 x 12
    and its hybrid 24 x 24), for the position embeddings."""

    def __init__(
        self,
        d_model: int = 192,
        heads: int = 8,
        ffn: int = 384,
        blocks: int = 4,
        windows=((1, 12, 12), (1, 24, 24)),
        dropout: float = 0.0,
        official_position_quirk: bool = True,
    ):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} does not split into {heads} heads")
        self.blocks = nn.ModuleList(DSVTBlock(d_model, heads, ffn, dropout) for _ in range(blocks))
        self.residual_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(blocks))
        self.positions = nn.ModuleList(
            nn.ModuleList(PositionEmbedding(tuple(w), d_model) for w in windows)
            for _ in range(blocks)
        )
        self.official_position_quirk = official_position_quirk
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform for every matrix, as the official ``_reset_parameters``."""
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1 and "scaler" not in name:
                nn.init.xavier_uniform_(parameter)

    def forward(
        self,
        features: torch.Tensor,
        partitions: tuple[SetPartition, SetPartition],
        backs: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        """``backs``: per shift, :func:`scatter_back_indices` ``(2, N)`` (None: computed
        here; an exported core takes them as inputs)."""
        if features.shape[0] == 0:  # a scene with no voxel: attention over no set
            return features
        for b, (block, norm, embeddings) in enumerate(
            zip(self.blocks, self.residual_norms, self.positions)
        ):
            shift = b % 2
            per_shift = [embed(p.coords_in_window) for embed, p in zip(embeddings, partitions)]
            if self.official_position_quirk:
                positions = (per_shift[0], per_shift[1])  # indexed by layer, as the official code
            else:
                positions = (per_shift[shift], per_shift[shift])
            back = None if backs is None else backs[shift]
            features = norm(block(features, partitions[shift], positions, back) + features)
        return features
