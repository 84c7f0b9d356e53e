"""The training log: one logger writing to the console and, on the main process, to
``<run folder>/train.log``."""

from __future__ import annotations

import logging
import os


def make_logger(folder: str | None) -> logging.Logger:
    logger = logging.getLogger("geo3d.train")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if folder is not None:
        handlers.append(logging.FileHandler(os.path.join(folder, "train.log")))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger
