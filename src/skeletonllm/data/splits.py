"""Write sample lists for every protocol crossed with every open-vocabulary class split (and closed-set).

Reads a prepared dataset through data/prepared.PreparedDataset (its index, and the manifest's class names) and
writes OUT/<protocol>/<class split>.json plus OUT/index.json listing them. A class split is named s<seen>u<unseen>
(e.g. s55u5) or "closed" (all classes seen). Each file holds: train = seen classes on the protocol's training side;
test_unseen / test_seen = unseen / seen classes on its testing side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from skeletonllm.data.datasets import DatasetSpec, get_dataset
from skeletonllm.data.prepared import DatasetError, PreparedDataset
from skeletonllm.data.protocols import Protocol
from skeletonllm.errors import CommandError


class UnseenClassError(CommandError, ValueError):
    """Unseen classes that are not classes of the dataset, or repeated ones."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm splits`."""
    parser.add_argument("--dataset", required=True, help="dataset name (as given to prepare)")
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset directory (index.parquet)")
    parser.add_argument("--out", required=True, type=Path, help="directory for the split files")
    parser.add_argument("--unseen", default=None,
                        help="comma-separated unseen class names or 0-based ids; replaces the dataset's default "
                        "open-vocabulary splits with this one")


def resolve_unseen(entries: tuple[int | str, ...], class_names: list[str]) -> tuple[int, ...]:
    """0-based class ids of unseen entries given as ids or class names; unknown entries raise UnseenClassError."""
    ids = []
    for entry in entries:
        if isinstance(entry, str) and not entry.strip().isdigit():
            if entry.strip() not in class_names:
                raise UnseenClassError(f"unseen class {entry!r} is not a class of this dataset "
                                       f"(pass --unseen to choose others): {class_names}")
            ids.append(class_names.index(entry.strip()))
        else:
            ids.append(int(entry))
    bad = [i for i in ids if not 0 <= i < len(class_names)]
    if bad or len(set(ids)) != len(ids):
        raise UnseenClassError(f"unseen class ids {ids} must be distinct and within 0..{len(class_names) - 1}")
    return tuple(sorted(ids))


def class_splits(spec: DatasetSpec, class_names: list[str], unseen: str | None = None) -> dict[str, tuple[int, ...]]:
    """Class split name -> unseen class ids: "closed" plus the dataset's open-vocabulary splits (or --unseen)."""
    splits: dict[str, tuple[int, ...]] = {"closed": ()}
    if not class_names:
        return splits
    chosen = {"custom": tuple(unseen.split(","))} if unseen else spec.unseen_splits
    for entries in chosen.values():
        ids = resolve_unseen(tuple(entries), class_names)
        splits[f"s{len(class_names) - len(ids)}u{len(ids)}"] = ids
    return splits


def make_split(index, protocol: Protocol, split_name: str, unseen_ids: tuple[int, ...],
               class_names: list[str], dataset: str) -> dict:
    """One split file's content from the prepared index (a pandas DataFrame)."""
    train_side, test_side = protocol.masks(index[protocol.column].to_numpy())  # [N], [N]
    labels = index["label"].to_numpy()  # [N]
    is_unseen = np.isin(labels, unseen_ids)
    seen_ids = [i for i in range(len(class_names)) if i not in unseen_ids]
    is_seen = np.isin(labels, seen_ids) if class_names else np.ones(len(index), dtype=bool)
    sample_ids = index["sample_id"].to_numpy()
    lists = {
        "train": sample_ids[train_side & is_seen].tolist(),
        "test_unseen": sample_ids[test_side & is_unseen].tolist(),
        "test_seen": sample_ids[test_side & is_seen].tolist(),
    }
    return {
        "dataset": dataset,
        "protocol": protocol.as_dict(),
        "class_split": split_name,
        "num_classes": len(class_names),
        "seen": {"ids": seen_ids, "names": [class_names[i] for i in seen_ids]},
        "unseen": {"ids": list(unseen_ids), "names": [class_names[i] for i in unseen_ids]},
        **lists,
        "counts": {name: len(ids) for name, ids in lists.items()},
    }


def write_splits(dataset: str, data: Path, out: Path, unseen: str | None = None) -> dict:
    """Write every protocol x class split file under out and out/index.json; returns the index."""
    spec = get_dataset(dataset)
    prepared = PreparedDataset(data)
    if prepared.name != dataset:
        raise DatasetError(f"{data} holds the prepared dataset {prepared.name!r}, not {dataset!r}")
    class_names = prepared.class_names()
    index = prepared.index
    listing = {"dataset": dataset, "data": str(data), "splits": []}
    for protocol in spec.protocols:
        for split_name, unseen_ids in class_splits(spec, class_names, unseen).items():
            split = make_split(index, protocol, split_name, unseen_ids, class_names, dataset)
            path = Path(out) / protocol.name / f"{split_name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(split, indent=1) + "\n")
            listing["splits"].append({"protocol": protocol.name, "class_split": split_name,
                                      "path": f"{protocol.name}/{split_name}.json", "counts": split["counts"]})
    (Path(out) / "index.json").write_text(json.dumps(listing, indent=2) + "\n")
    return listing


def run(args: argparse.Namespace) -> int:
    """Entry point of `skeletonllm splits`; CommandError for an unknown dataset, a folder that holds no store of it,
    unknown unseen classes or an output folder that cannot be written."""
    try:
        listing = write_splits(args.dataset, args.data, args.out, args.unseen)
    except KeyError as error:  # get_dataset: an unknown name, with the known ones
        raise CommandError(error.args[0]) from None
    except OSError as error:
        raise CommandError(str(error)) from None
    for entry in listing["splits"]:
        print(f"{entry['path']}: " + ", ".join(f"{k} {v}" for k, v in entry["counts"].items()))
    return 0
