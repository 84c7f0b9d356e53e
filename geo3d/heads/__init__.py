"""Heads on top of encoders."""

from geo3d.heads.classification import MLPHead
from geo3d.heads.memory_bank import MemoryBankClassifier

__all__ = ["MLPHead", "MemoryBankClassifier"]
