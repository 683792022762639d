"""Evaluation figures as PNGs: the confusion matrix, a t-SNE of features with the unseen classes highlighted, and the
per-class accuracy. Drawn on matplotlib Figures rendered by the Agg backend (no pyplot state, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

SEEN_COLOUR = "#9e9e9e"  # the seen classes of the t-SNE, drawn faded behind the unseen ones


def _save(figure: Figure, path: Path | str) -> Path:
    """Lay out and write the figure as a PNG to path through the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    return Path(path)


def plot_confusion(matrix: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], path: Path | str,
                   title: str) -> Path:
    """Heatmap of a confusion matrix [C, C'] (rows: true classes, columns: predictions, e.g. metrics.confusion's
    [C, C + 1]): colour = fraction of the row, text = the count where not 0; the figure grows with the class count."""
    matrix = np.asarray(matrix)  # [C, C']
    if matrix.shape != (len(row_names), len(col_names)):
        raise ValueError(f"matrix {matrix.shape} does not fit {len(row_names)} row and {len(col_names)} column names")
    totals = matrix.sum(axis=1, keepdims=True)  # [C, 1]
    fractions = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)  # [C, C'], rows sum to 1
    rows, cols = matrix.shape
    figure = Figure(figsize=(3 + 0.4 * cols, 2.5 + 0.4 * rows))
    axis = figure.add_subplot()
    image = axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    figure.colorbar(image, ax=axis, label="fraction of the true class")
    font = max(4.0, min(9.0, 240 / max(rows, cols)))
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            axis.text(col, row, str(count), ha="center", va="center", fontsize=font,
                      color="white" if fractions[row, col] > 0.5 else "black")
    axis.set_xticks(range(cols), col_names, rotation=90, fontsize=font)
    axis.set_yticks(range(rows), row_names, fontsize=font)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    return _save(figure, path)


def plot_tsne(features: np.ndarray, labels: Sequence[str], unseen: set[str], path: Path | str, title: str,
              seed: int = 0) -> Path:
    """2-D t-SNE of features [N, D] (D >= 2) labelled by class: the seen classes faded in grey, each unseen class in
    its own colour with a legend. The perplexity is min(30, N - 1), so N >= 3 is needed (ValueError otherwise)."""
    features = np.asarray(features, dtype=float)  # [N, D]
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need features [N, D] and N labels: got {features.shape} and {len(labels)} labels")
    if len(features) < 3:
        raise ValueError(f"t-SNE needs at least 3 samples, got {len(features)}")
    points = TSNE(n_components=2, perplexity=min(30.0, len(features) - 1), init="pca",
                  random_state=seed).fit_transform(features)  # [N, 2]
    labels = np.asarray(labels)  # [N]
    highlighted = [name for name in dict.fromkeys(labels) if name in unseen]
    seen = ~np.isin(labels, highlighted)  # [N]
    colours = matplotlib.colormaps["tab10" if len(highlighted) <= 10 else "tab20"]
    figure = Figure(figsize=(7, 5.5))
    axis = figure.add_subplot()
    if seen.any():
        axis.scatter(*points[seen].T, s=10, color=SEEN_COLOUR, alpha=0.25, linewidths=0,
                     label=f"seen ({len(set(labels[seen]))} classes)")
    for index, name in enumerate(highlighted):
        axis.scatter(*points[labels == name].T, s=18, color=colours(index % colours.N), label=name)
    axis.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title)
    return _save(figure, path)


def plot_per_class(per_class: dict[str, float], path: Path | str, title: str) -> Path:
    """Horizontal bars of class -> accuracy (0-1), top to bottom in the dict's order, each labelled with its value."""
    names, values = list(per_class), list(per_class.values())
    figure = Figure(figsize=(7, 1.2 + 0.25 * len(names)))
    axis = figure.add_subplot()
    bars = axis.barh(range(len(names)), values, color="#4c72b0")
    axis.bar_label(bars, fmt="%.2f", padding=2, fontsize=7)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlim(0, 1.08)
    axis.set_xlabel("accuracy")
    axis.set_title(title)
    return _save(figure, path)
