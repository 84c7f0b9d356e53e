"""Train and evaluate any config (point or mesh classification, mesh segmentation); the
same loop serves several processes. What differs between tasks lives in
:mod:`geo3d.engine.tasks`, evaluation in :mod:`geo3d.engine.evaluation`, checkpoints in
:mod:`geo3d.engine.checkpoint`, the log in :mod:`geo3d.engine.logs`, the curves in
:mod:`geo3d.engine.plots` and the process set-up in :mod:`geo3d.engine.distributed`.

Outputs in ``<output_dir>/<name>/``: ``last.pt`` and ``best.pt`` (atomic), ``metrics.jsonl``
(one JSON line per epoch), ``train.log``, ``curves.png``, ``results.json`` and, where
tensorboard is installed, ``tensorboard/`` (:mod:`geo3d.engine.tensorboard`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass

import numpy as np
import torch

from geo3d.engine import distributed as D
from geo3d.engine.checkpoint import (
    check_resume_state,
    load_checkpoint,
    random_states,
    restore_random_states,
    save_atomic,
)
from geo3d.engine.config import ExperimentConfig, config_to_dict
from geo3d.engine.data import build_datasets
from geo3d.engine.evaluation import _loader, evaluate, predict, shard  # noqa: F401  (old home)
from geo3d.engine.logs import make_logger
from geo3d.engine.optim import build_optimizer, build_scheduler, steps_per_epoch_schedule
from geo3d.engine.plots import plot_curves
from geo3d.engine.tasks import add_sums, make_task  # noqa: F401  (old home of add_sums)
from geo3d.engine.tensorboard import TensorBoardLog
from geo3d.metrics import classification_sums
from geo3d.models import create_model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class RunContext:
    """What every part of a run needs: the model, the config, the splits, where it runs
    (device, rank and number of processes), the log and the run folder."""

    model: torch.nn.Module
    config: ExperimentConfig
    train_set: torch.utils.data.Dataset
    val_set: torch.utils.data.Dataset
    test_set: torch.utils.data.Dataset
    device: torch.device
    rank: int
    world_size: int
    logger: logging.Logger
    folder: str

    @property
    def main(self) -> bool:
        return D.is_main(self.rank)

    def evaluate(self, dataset, task) -> dict:
        return evaluate(
            self.model, dataset, self.config, self.device, self.rank, self.world_size, task
        )

    def encode(self, dataset):
        """``(features, labels)`` of a whole split, gathered over processes."""
        return predict(
            self.model,
            dataset,
            self.config,
            self.device,
            self.rank,
            self.world_size,
            features_only=True,
        )


def run(
    config: ExperimentConfig,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    unsafe_load: bool = False,
) -> dict:
    """Train (or fit) and evaluate ``config``; returns the final metrics.

    ``stop_after_epochs`` ends the run after that many epochs as an interruption would
    (for tests of ``resume``). ``unsafe_load`` resumes from a ``last.pt`` that is not plain
    data (:func:`geo3d.engine.checkpoint.load_checkpoint`'s opt-in).
    """
    rank, world_size, device = D.init_distributed()
    main = D.is_main(rank)
    seed_everything(config.train.seed)
    # Data and model first: a config naming a missing data set or a bad option fails here,
    # before anything is written.
    data = build_datasets(config.data)
    train_set, val_set, test_set, classes = data.train, data.val, data.test, data.classes
    num_classes = len(classes)
    model = create_model(config.model.name, num_classes=num_classes, **config.model.options)
    model = model.to(device)
    folder = os.path.join(config.output_dir, config.name)
    if main:
        os.makedirs(folder, exist_ok=True)
    D.barrier(world_size)
    logger = make_logger(folder if main else None)
    if not main:
        logger.setLevel(logging.WARNING)
    parameters = sum(p.numel() for p in model.parameters())
    logger.info(
        f"{config.name}: {config.model.name} with {parameters:,} parameters "
        f"({parameters / 1e6:.2f} M), "
        f"{len(train_set)} train / {len(val_set)} val / {len(test_set)} test samples, "
        f"{world_size} process(es) on {device}"
    )
    if val_set is test_set and data.kind == "points":
        logger.info(
            "no held-out validation split (data.val_fraction 0): the test set takes "
            "the validation role, as in the official protocol"
        )
    elif val_set is test_set:
        logger.info(
            f"{config.data.dataset} has no labelled test split: its validation split also tests"
        )
    if main:
        with open(os.path.join(folder, "config.json"), "w") as handle:
            json.dump(config_to_dict(config), handle, indent=2)
    start = time.time()
    context = RunContext(
        model, config, train_set, val_set, test_set, device, rank, world_size, logger, folder
    )
    task = make_task(data)
    if not getattr(model, "trainable", True):
        results = fit_training_free(context, task=task)
    else:
        results = train(
            context,
            task=task,
            resume=resume,
            stop_after_epochs=stop_after_epochs,
            unsafe_load=unsafe_load,
        )
    results["seconds"] = time.time() - start
    results["parameters"] = parameters
    if val_set is not test_set:
        results["validation"] = "held out"
    else:
        results["validation"] = (
            "test set (val_fraction 0)" if data.kind == "points" else "the test split"
        )
    if main and results.get("finished", True):
        with open(os.path.join(folder, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2)
        rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()}
        logger.info(f"results: {json.dumps(rounded)}")
    D.barrier(world_size)
    return results


def fit_training_free(context: RunContext, *, task) -> dict:
    """Point-NN: encode the training set and fit the memory-bank head to it
    (:meth:`geo3d.models.Pipeline.fit_features`), choose gamma, evaluate with the task's
    metrics. Every split is encoded once (the encoder is the whole cost)."""
    model, config, device, logger = context.model, context.config, context.device, context.logger
    logger.info("training-free: encoding the training set into the memory bank")
    train_features, train_labels = context.encode(context.train_set)
    model.fit_features(train_features.to(device), train_labels.to(device))
    encoded = {"val": context.encode(context.val_set)}
    encoded["test"] = (
        encoded["val"] if context.test_set is context.val_set else context.encode(context.test_set)
    )
    features, labels = encoded[config.train.select_gamma_on]
    gamma = model.head.select_gamma(
        features.to(device), labels.to(device), config.train.gamma_candidates
    )
    logger.info(f"gamma = {gamma:g}, chosen on the {config.train.select_gamma_on} split")
    results = {"gamma": gamma, "gamma_chosen_on": config.train.select_gamma_on}
    for name, (features, labels) in encoded.items():
        predictions = model.predict(model.head(features.to(device))).cpu()
        metrics = task.metrics(classification_sums(predictions, labels, task.num_classes))
        results.update({f"{name}_{key}": value for key, value in metrics.items()})
    return results


def train(
    context: RunContext,
    *,
    task,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    unsafe_load: bool = False,
) -> dict:
    """The training loop: epochs of the task's loss, validation every ``eval_every`` epochs,
    ``last.pt`` and ``best.pt`` after each epoch (resumable bit for bit), then the test
    split with the best checkpoint. ``stop_after_epochs`` ends the run as an interruption
    would (for tests of ``resume``)."""
    from tqdm import tqdm

    model, config, device, logger = context.model, context.config, context.device, context.logger
    train_set, val_set, test_set = context.train_set, context.val_set, context.test_set
    rank, world_size, folder, main = context.rank, context.world_size, context.folder, context.main
    sampler = torch.utils.data.DistributedSampler(
        train_set, world_size, rank, shuffle=True, seed=config.train.seed, drop_last=True
    )
    loader = _loader(
        train_set, config, task, config.data.batch_size, sampler=sampler, drop_last=True
    )
    if len(loader) == 0:
        raise ValueError(
            f"{len(train_set)} training samples make no batch of {config.data.batch_size} per "
            "process"
        )
    batches = (
        len(loader)
        if config.train.max_train_batches is None
        else min(len(loader), config.train.max_train_batches)
    )
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer, batches)
    per_step = steps_per_epoch_schedule(config)
    history, best, first_epoch = [], -1.0, 0
    last_path, best_path = os.path.join(folder, "last.pt"), os.path.join(folder, "best.pt")
    if resume and os.path.isfile(last_path):
        state = load_checkpoint(last_path, unsafe=unsafe_load)
        check_resume_state(state, last_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        first_epoch, best, history = state["epoch"], state["best"], state["history"]
        restore_random_states(state["random"][min(rank, len(state["random"]) - 1)])
        logger.info(f"resumed from {last_path} after epoch {first_epoch}")
    train_model = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    board = TensorBoardLog(folder if main else None, config.train.tensorboard, logger)
    finished = True
    for epoch in range(first_epoch, config.train.epochs):
        if stop_after_epochs is not None and epoch >= first_epoch + stop_after_epochs:
            finished = False
            break
        model.train()
        sampler.set_epoch(epoch)
        if hasattr(train_set, "set_epoch"):  # seeded augmentation views
            train_set.set_epoch(epoch)
        total, count = 0.0, 0
        lr = optimizer.param_groups[0]["lr"]
        bar = tqdm(
            loader,
            total=batches,
            desc=f"epoch {epoch + 1}/{config.train.epochs}",
            disable=not main,
            leave=False,
        )
        for step, batch in enumerate(bar):
            if step >= batches:
                break
            inputs, targets = task.split(batch, device)
            loss = model.loss(train_model(*inputs), task.loss_targets(targets))["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss is {loss.item()} at epoch {epoch + 1}, step {step}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.optimizer.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.optimizer.grad_clip)
            optimizer.step()
            if per_step:
                scheduler.step()
            total, count = total + loss.item(), count + 1
            board.step(epoch * batches + step, loss.item())
            bar.set_postfix(
                loss=f"{total / count:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}"
            )
        if not per_step:
            scheduler.step()
        record = {
            "epoch": epoch + 1,
            "train_loss": D.average(total / max(count, 1), world_size),
            "lr": lr,
        }
        if (epoch + 1) % config.train.eval_every == 0 or epoch + 1 == config.train.epochs:
            val = evaluate(model, val_set, config, device, rank, world_size, task)
            record.update({f"val_{k}": v for k, v in val.items()})
            board.detection_pictures(model, val_set, task, device, epoch + 1)
        history.append(record)
        score = record.get(f"val_{task.primary}", -1.0)
        improved = score > best
        best = max(best, score)
        rng = [None] * world_size
        if world_size > 1:
            torch.distributed.all_gather_object(rng, random_states())
        else:
            rng = [random_states()]
        if main:
            logger.info(
                " ".join(
                    f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in record.items()
                )
            )
            with open(os.path.join(folder, "metrics.jsonl"), "a") as handle:
                handle.write(json.dumps(record) + "\n")
            board.scalars(record, epoch + 1)
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "best": best,
                "history": history,
                "random": rng,
                "config": config_to_dict(config),
            }
            save_atomic(state, last_path)
            if improved:
                save_atomic(state, best_path)
        D.barrier(world_size)
    if not finished:
        board.close()
        logger.info(f"stopped after epoch {epoch} (resume with --resume)")
        return {"finished": False, "epoch": epoch}
    if main:
        plot_curves(history, os.path.join(folder, "curves.png"))
    if os.path.isfile(best_path):
        model.load_state_dict(load_checkpoint(best_path)["model"])
    test = evaluate(model, test_set, config, device, rank, world_size, task)
    board.scalars({f"test_{k}": v for k, v in test.items()}, config.train.epochs)
    board.close()
    last = history[-1] if history else {}
    primary = task.primary
    return {
        f"best_val_{primary}": best,
        f"val_{primary}": last.get(f"val_{primary}", math.nan),
        **{f"test_{k}": v for k, v in test.items()},
        "epochs": config.train.epochs,
    }
