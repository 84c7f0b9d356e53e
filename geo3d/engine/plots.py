"""Training curves as a picture: the loss and the validation metrics per epoch."""

from __future__ import annotations


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
