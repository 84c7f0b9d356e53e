"""Data: readers of real formats, data sets, transforms and batching."""
