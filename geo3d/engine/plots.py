"""Training curves as a picture: the loss and the validation metrics per epoch."""

from __future__ import annotations

# Detection logs AP per class, metric and level (18 curves and more); the picture shows the
# summaries and the moderate BEV AP per class, the rest stays in metrics.jsonl.
MAX_CURVES = 8


def shown_metrics(keys: list[str]) -> list[str]:
    """The validation metrics worth a curve: all of them when few, else the means
    (``map_*``) and the moderate BEV AP per class."""
    if len(keys) <= MAX_CURVES:
        return keys
    chosen = [k for k in keys if k.startswith("val_map")]
    chosen += [k for k in keys if k.endswith("_bev_moderate")]
    return chosen or keys[:MAX_CURVES]


def plot_curves(history: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    keys = shown_metrics(sorted({k for h in history for k in h if k.startswith("val_")}))
    for key in keys:
        points = [(h["epoch"], h[key]) for h in history if key in h]
        right.plot(*zip(*points), marker="o", label=key[len("val_") :].replace("_", " "))
    right.set(xlabel="epoch", ylabel="metric", title="validation", ylim=(0, 1))
    right.grid(alpha=0.3)
    right.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
