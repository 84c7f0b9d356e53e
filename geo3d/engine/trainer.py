"""Train and evaluate any config (point or mesh classification, mesh segmentation); the
same loop serves several processes. What differs between tasks lives in
:mod:`geo3d.engine.tasks`.

Outputs in ``<output_dir>/<name>/``: ``last.pt`` and ``best.pt`` (atomic), ``metrics.jsonl``
(one JSON line per epoch), ``train.log``, ``curves.png`` and ``results.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time

import numpy as np
import torch

from geo3d.engine import distributed as D
from geo3d.engine.checkpoint import (
    load_checkpoint,
    random_states,
    restore_random_states,
    save_atomic,
)
from geo3d.engine.config import ExperimentConfig, config_to_dict
from geo3d.engine.data import build_datasets
from geo3d.engine.tasks import add_sums, make_task
from geo3d.metrics import classification_metrics
from geo3d.models import create_model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def shard(dataset, rank: int, world_size: int):
    """Every ``world_size``-th sample from ``rank``: no padding, so gathered metrics count
    each sample exactly once (DistributedSampler would repeat some)."""
    return torch.utils.data.Subset(dataset, list(range(rank, len(dataset), world_size)))


def build_optimizer(config: ExperimentConfig, parameters):
    o = config.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    if o.name == "adam":
        return torch.optim.Adam(parameters, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(parameters, lr=o.lr, weight_decay=o.weight_decay)
    raise ValueError(f"unknown optimizer {o.name!r} (sgd, adam, adamw)")


def build_scheduler(config: ExperimentConfig, optimizer):
    s = config.scheduler
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.train.epochs, eta_min=s.min_lr
        )
    if s.name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    if s.name == "linear_decay":
        # MeshCNN's "lambda" policy: the full rate for `constant_epochs` (niter), then a
        # linear decay towards 0 over the remaining epochs (niter_decay).
        keep, decay = s.constant_epochs, max(config.train.epochs - s.constant_epochs, 0)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 1.0 - max(0, epoch + 2 - keep) / float(decay + 1)
        )
    raise ValueError(f"unknown scheduler {s.name!r} (cosine, constant, linear_decay)")


@torch.no_grad()
def predict(model, dataset, config, device, rank, world_size, features_only=False):
    """Predictions (or features) and labels of the whole data set, gathered over processes."""
    model.eval()
    loader = torch.utils.data.DataLoader(
        shard(dataset, rank, world_size),
        batch_size=config.data.eval_batch_size,
        num_workers=config.data.workers,
    )
    outputs, labels = [], []
    for points, target in loader:
        points = points.to(device)
        out = model.features(points) if features_only else model.predict(model(points))
        outputs.append(out.cpu())
        labels.append(target)
    indices = torch.arange(rank, len(dataset), world_size)
    local_out = torch.cat(outputs) if outputs else torch.zeros(0)
    local_labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if world_size == 1:
        return local_out, local_labels
    gathered_out, gathered_labels = [None] * world_size, [None] * world_size
    gathered_idx = [None] * world_size
    torch.distributed.all_gather_object(gathered_out, local_out)
    torch.distributed.all_gather_object(gathered_labels, local_labels)
    torch.distributed.all_gather_object(gathered_idx, indices)
    order = torch.cat(gathered_idx).argsort()
    return torch.cat(gathered_out)[order], torch.cat(gathered_labels)[order]


def _loader(dataset, config, task, batch_size, **options):
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=config.data.workers,
                                       collate_fn=task.collate_fn, **options)  # fmt: skip


@torch.no_grad()
def evaluate(model, dataset, config, device, rank, world_size, task) -> dict:
    """The task's metrics over the whole data set: per-batch sums, added over processes."""
    model.eval()
    total = None
    for batch in _loader(
        shard(dataset, rank, world_size), config, task, config.data.eval_batch_size
    ):
        inputs, targets = task.split(batch, device)
        total = add_sums(total, task.batch_sums(model, model(*inputs), targets))
    if world_size > 1:
        gathered = [None] * world_size
        torch.distributed.all_gather_object(gathered, total)
        total = None
        for part in gathered:
            if part is not None:
                total = add_sums(total, part)
    if total is None:
        raise ValueError("the evaluation split is empty")
    return task.metrics(total)


def plot_curves(history: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    keys = sorted({k for h in history for k in h if k.startswith("val_")})
    for key in keys:
        points = [(h["epoch"], h[key]) for h in history if key in h]
        right.plot(*zip(*points), marker="o", label=key.replace("_", " "))
    right.set(xlabel="epoch", ylabel="metric", title="validation", ylim=(0, 1))
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run(
    config: ExperimentConfig, resume: bool = False, stop_after_epochs: int | None = None
) -> dict:
    """Train (or fit) and evaluate ``config``; returns the final metrics.

    ``stop_after_epochs`` ends the run after that many epochs as an interruption would
    (for tests of ``resume``).
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
    logger.info(f"{config.name}: {config.model.name} with {parameters:,} parameters ({parameters / 1e6:.2f} M), "
                f"{len(train_set)} train / {len(val_set)} val / {len(test_set)} test samples, "
                f"{world_size} process(es) on {device}")  # fmt: skip
    if val_set is test_set:
        logger.info("no held-out validation split (data.val_fraction 0): the test set takes "
                    "the validation role, as in the official protocol")  # fmt: skip
    if main:
        with open(os.path.join(folder, "config.json"), "w") as handle:
            json.dump(config_to_dict(config), handle, indent=2)
    start = time.time()
    if not getattr(model, "trainable", True):
        results = run_training_free(
            model,
            config,
            train_set,
            val_set,
            test_set,
            device,
            rank,
            world_size,
            num_classes,
            logger,
        )
    else:
        results = run_training(model, config, train_set, val_set, test_set, device, rank, world_size, make_task(data),
                               logger, folder, resume, stop_after_epochs)  # fmt: skip
    results["seconds"] = time.time() - start
    results["parameters"] = parameters
    results["validation"] = "test set (val_fraction 0)" if val_set is test_set else "held out"
    if main and results.get("finished", True):
        with open(os.path.join(folder, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2)
        logger.info(
            f"results: {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()})}"
        )
    D.barrier(world_size)
    return results


def run_training_free(
    model, config, train_set, val_set, test_set, device, rank, world_size, num_classes, logger
):
    """Point-NN: encode the training set into the memory bank, choose gamma, evaluate.
    Every split is encoded once (the encoder is the whole cost)."""
    logger.info("training-free: encoding the training set into the memory bank")
    train_features, train_labels = predict(
        model, train_set, config, device, rank, world_size, features_only=True
    )
    model.head.build(train_features.to(device), train_labels.to(device))
    encoded = {"val": predict(model, val_set, config, device, rank, world_size, features_only=True)}
    encoded["test"] = (
        encoded["val"]
        if test_set is val_set
        else predict(model, test_set, config, device, rank, world_size, features_only=True)
    )
    features, labels = encoded[config.train.select_gamma_on]
    gamma = model.head.select_gamma(
        features.to(device), labels.to(device), config.train.gamma_candidates
    )
    logger.info(f"gamma = {gamma:g}, chosen on the {config.train.select_gamma_on} split")
    results = {"gamma": gamma, "gamma_chosen_on": config.train.select_gamma_on}
    for name, (features, labels) in encoded.items():
        predictions = model.predict(model.head(features.to(device))).cpu()
        metrics = classification_metrics(predictions, labels, num_classes)
        results.update({f"{name}_oa": metrics["oa"], f"{name}_macc": metrics["macc"]})
    return results


def run_training(model, config, train_set, val_set, test_set, device, rank, world_size, task, logger,
                 folder, resume, stop_after_epochs):  # fmt: skip
    from tqdm import tqdm

    main = D.is_main(rank)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer)
    history, best, first_epoch = [], -1.0, 0
    last_path, best_path = os.path.join(folder, "last.pt"), os.path.join(folder, "best.pt")
    if resume and os.path.isfile(last_path):
        state = load_checkpoint(last_path)
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
    sampler = torch.utils.data.DistributedSampler(
        train_set, world_size, rank, shuffle=True, seed=config.train.seed, drop_last=True
    )
    loader = _loader(
        train_set, config, task, config.data.batch_size, sampler=sampler, drop_last=True
    )
    if len(loader) == 0:
        raise ValueError(
            f"{len(train_set)} training samples make no batch of {config.data.batch_size} per process"
        )
    finished = True
    for epoch in range(first_epoch, config.train.epochs):
        if stop_after_epochs is not None and epoch >= first_epoch + stop_after_epochs:
            finished = False
            break
        model.train()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        total, count = 0.0, 0
        batches = (
            len(loader)
            if config.train.max_train_batches is None
            else min(len(loader), config.train.max_train_batches)
        )
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
            optimizer.step()
            total, count = total + loss.item(), count + 1
            bar.set_postfix(
                loss=f"{total / count:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}"
            )
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        record = {
            "epoch": epoch + 1,
            "train_loss": D.average(total / max(count, 1), world_size),
            "lr": lr,
        }
        if (epoch + 1) % config.train.eval_every == 0 or epoch + 1 == config.train.epochs:
            val = evaluate(model, val_set, config, device, rank, world_size, task)
            record.update({f"val_{k}": v for k, v in val.items()})
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
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "best": best,
                     "history": history, "random": rng, "config": config_to_dict(config)}  # fmt: skip
            save_atomic(state, last_path)
            if improved:
                save_atomic(state, best_path)
        D.barrier(world_size)
    if not finished:
        logger.info(f"stopped after epoch {epoch} (resume with --resume)")
        return {"finished": False, "epoch": epoch}
    if main:
        plot_curves(history, os.path.join(folder, "curves.png"))
    if os.path.isfile(best_path):
        model.load_state_dict(load_checkpoint(best_path)["model"])
    test = evaluate(model, test_set, config, device, rank, world_size, task)
    last = history[-1] if history else {}
    primary = task.primary
    return {f"best_val_{primary}": best, f"val_{primary}": last.get(f"val_{primary}", math.nan),
            **{f"test_{k}": v for k, v in test.items()}, "epochs": config.train.epochs}  # fmt: skip
