"""Training loop, evaluation, checkpoints, several processes, logging."""

from geo3d.engine.config import ExperimentConfig, load_config
from geo3d.engine.trainer import run

__all__ = ["ExperimentConfig", "load_config", "run"]
