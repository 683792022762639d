"""Score a hard-negative mapping against a reference list: overlap@k and Jaccard, matching classes by id.

A reference's keys are the classes in id order, possibly in other wording than ours (the paper says "eat food"
for "eat meal/snack"); its neighbour names are keys of the same file. Both sides are therefore turned into class
ids (our names by position in our class list, the reference's by position in its key order) before comparing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path


def load_reference(path: str | Path) -> dict[str, list[str]]:
    """A reference mapping {class: [neighbours]} from JSON; raises ValueError on any other shape."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path}: expected a JSON object mapping each class to a list of similar classes")
    return data


def to_ids(mapping: Mapping[str, Sequence[str]], names: Sequence[str], source: str) -> list[list[int]]:
    """Neighbour lists as class ids, in the order of names (the mapping's classes in id order)."""
    position = {name: i for i, name in enumerate(names)}
    ids = []
    for name in names:
        if name not in mapping:
            raise ValueError(f"{source}: class {name!r} has no neighbour list")
        unknown = [other for other in mapping[name] if other not in position]
        if unknown:
            raise ValueError(f"{source}: neighbours of {name!r} are not classes of the list: {unknown}")
        ids.append([position[other] for other in mapping[name]])
    return ids


def compare(mined: Mapping[str, Sequence[str]], names: Sequence[str], reference: Mapping[str, Sequence[str]],
            k: int, reference_source: str = "reference") -> dict:
    """overlap@k (mean |mined_k ∩ ref_k| / k) and Jaccard (mean |∩| / |∪|) over the classes, by class id.

    mined: our mapping over names (id order); reference: keys in id order; both truncated to their first k.
    Returns {"overlap_at_k", "jaccard", "classes" (count), "k", "per_class": [...]}.
    """
    reference_names = list(reference)
    if len(reference_names) != len(names):
        raise ValueError(f"{reference_source} lists {len(reference_names)} classes but the mined list has "
                         f"{len(names)}; classes are matched by id, so both must cover the same classes")
    ours = to_ids(mined, names, "mined list")
    theirs = to_ids(reference, reference_names, reference_source)
    per_class = []
    for i, name in enumerate(names):
        a, b = set(ours[i][:k]), set(theirs[i][:k])
        per_class.append({
            "class": name, "reference_class": reference_names[i],
            "overlap": len(a & b) / k, "jaccard": len(a & b) / len(a | b) if a | b else 1.0,
            "shared": [names[j] for j in sorted(a & b)],
        })
    count = len(per_class)
    return {
        "overlap_at_k": sum(c["overlap"] for c in per_class) / count,
        "jaccard": sum(c["jaccard"] for c in per_class) / count,
        "classes": count, "k": k, "per_class": per_class,
    }
