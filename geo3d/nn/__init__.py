"""Layers: positional encodings and the building blocks of the encoders."""

from geo3d.nn.positional import trig_positional_encoding

__all__ = ["trig_positional_encoding"]
