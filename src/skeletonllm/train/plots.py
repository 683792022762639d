"""The loss curve of a training stage, as a PNG."""

from __future__ import annotations

from pathlib import Path


def plot_loss(losses: list[tuple[int, float]], path: Path, title: str) -> Path:
    """Plot (optimizer step, logged loss) pairs to path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    steps, values = zip(*losses) if losses else ((), ())
    axis.plot(steps, values, marker="o", markersize=3)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss (answer tokens)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
