"""Heads on top of encoders: classifiers, the training-free memory bank, CenterPoint's
detection head and its heatmap targets."""

from geo3d.heads.center_head import CenterHead, focal_loss_centernet
from geo3d.heads.classification import MLPHead
from geo3d.heads.memory_bank import MemoryBankClassifier

__all__ = ["CenterHead", "MLPHead", "MemoryBankClassifier", "focal_loss_centernet"]
