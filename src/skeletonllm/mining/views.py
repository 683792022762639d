"""Write a hard-negative mapping: hard_negatives.json, a Markdown table, and a PNG of the neighbourhoods."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def write_json(path: Path, names: Sequence[str], mined: Mapping[str, Sequence[str]]) -> None:
    """{"class": [top-k neighbours]} in class id order."""
    path.write_text(json.dumps({name: list(mined[name]) for name in names}, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def write_markdown(path: Path, names: Sequence[str], mined: Mapping[str, Sequence[str]], title: str) -> None:
    """A table: class id, class, its neighbours in rank order."""
    k = len(next(iter(mined.values())))
    lines = [f"# {title}", "", "| id | class | " + " | ".join(f"#{r + 1}" for r in range(k)) + " |",
             "|---:|---|" + "---|" * k]
    for i, name in enumerate(names):
        cells = [_escape(name), *(_escape(neighbour) for neighbour in mined[name])]
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def rank_matrix(names: Sequence[str], mined: Mapping[str, Sequence[str]]) -> np.ndarray:
    """[N, N] int: entry (i, j) is the rank (1 = closest) of class j among class i's neighbours, 0 if absent."""
    position = {name: i for i, name in enumerate(names)}
    ranks = np.zeros((len(names), len(names)), dtype=np.int64)
    for i, name in enumerate(names):
        for r, neighbour in enumerate(mined[name]):
            ranks[i, position[neighbour]] = r + 1
    return ranks


def write_png(path: Path, names: Sequence[str], mined: Mapping[str, Sequence[str]], title: str) -> None:
    """A class-by-class grid, each class's neighbours shaded by rank (darker = closer)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranks = rank_matrix(names, mined)  # [N, N]
    k = int(ranks.max())
    strength = np.where(ranks > 0, k + 1 - ranks, 0)  # [N, N], k for the nearest neighbour, 0 for none
    size = max(6.0, 0.16 * len(names) + 3)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(strength, cmap="Blues", vmin=0, vmax=k, interpolation="nearest")
    ticks = np.arange(len(names))
    font = 9 if len(names) <= 30 else max(3, 9 - len(names) // 20)
    axes.set_xticks(ticks, names, rotation=90, fontsize=font)
    axes.set_yticks(ticks, names, fontsize=font)
    axes.set_xlabel("hard negative")
    axes.set_ylabel("class")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_all(out: Path, names: Sequence[str], mined: Mapping[str, Sequence[str]], title: str) -> dict[str, Path]:
    """hard_negatives.json, .md and .png under out; returns their paths by suffix."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: out / f"hard_negatives.{suffix}" for suffix in ("json", "md", "png")}
    write_json(paths["json"], names, mined)
    write_markdown(paths["md"], names, mined, title)
    write_png(paths["png"], names, mined, title)
    return paths
