"""Write teacher rationales for the training samples of a split (rationales.jsonl, cached and resumable).

Reads a prepared dataset (poses.npy, index.parquet, manifest.json) and a split json (its "train" ids), asks the
chosen backend for one rationale per sample, caches each answer in OUT/cache.jsonl keyed by sample and prompt hash
(a killed run resumes without redoing finished samples) and writes OUT/rationales.jsonl with sample_id, label,
label_name, rationale and backend per line.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

BACKENDS = ("kinematic", "openai", "hf")
KINEMATIC_VERSION = "kinematic-v1"  # part of the kinematic prompt: bump it when the rationale text changes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm teach`."""
    parser.add_argument("--dataset", required=True, help="dataset name (recorded in the output)")
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset directory")
    parser.add_argument("--split", required=True, type=Path, help="split json; its 'train' sample ids are taught")
    parser.add_argument("--backend", choices=BACKENDS, default="kinematic")
    parser.add_argument("--condition-on-label", action=argparse.BooleanOptionalAction, default=True,
                        help="give the teacher the true label (default: yes)")
    parser.add_argument("--keep-final-label", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the final 'Label: <label>' line (default: yes)")
    parser.add_argument("--out", required=True, type=Path, help="output directory (rationales.jsonl, cache.jsonl)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the prepared poses (default 30)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N training samples")
    parser.add_argument("--renderer", help="DrAction checkpoint directory (openai, hf)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (openai)")
    parser.add_argument("--model", help="model name at the endpoint (openai) or transformers model path (hf)")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    parser.add_argument("--requests-per-s", type=float, default=None, help="rate limit of remote requests")


def _model_teacher(args: argparse.Namespace):
    """The openai or hf teacher named by args (clear error on missing options)."""
    needed = ["renderer", "model"] + (["base_url"] if args.backend == "openai" else [])
    missing = ["--" + name.replace("_", "-") for name in needed if not getattr(args, name)]
    if missing:
        raise SystemExit(f"skeletonllm teach --backend {args.backend} needs {' '.join(missing)}")
    if args.backend == "openai":
        from skeletonllm.teacher.openai import OpenAITeacher

        return OpenAITeacher(args.renderer, args.base_url, args.model, args.api_key_env, args.requests_per_s)
    from skeletonllm.teacher.hf import HFTeacher

    return HFTeacher(args.renderer, args.model)


def _write_atomic(path: Path, lines: list[str]) -> None:
    """Write lines to path through a temporary file, so a kill never leaves a half-written output."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(line + "\n" for line in lines)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def run(args: argparse.Namespace) -> int:
    """Teach every training sample of the split; returns 0."""
    from tqdm import tqdm

    from skeletonllm.remote.cache import JsonlCache
    from skeletonllm.teacher.kinematic import drop_label_line, rationale
    from skeletonllm.data.prepared import PreparedDataset
    from skeletonllm.formats.sequence import SkeletonSequence

    data = PreparedDataset(args.data)
    split = json.loads(Path(args.split).read_text())
    if "train" not in split:
        raise SystemExit(f"{args.split}: no 'train' list of sample ids")
    ids = list(split["train"])[: args.limit]
    classes = data.class_names()
    teacher = None if args.backend == "kinematic" else _model_teacher(args)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = JsonlCache(args.out / "cache.jsonl")
    lines = []
    for sample_id in tqdm(ids, desc=f"teach {args.dataset} ({args.backend})", unit="sample"):
        row = data.row(sample_id)
        seq = SkeletonSequence(data.joints(sample_id), None, data.topology, args.fps, {"sample_id": sample_id})
        label = str(row["label_name"])
        if teacher is None:
            prompt = f"{KINEMATIC_VERSION} label={label!r} condition_on_label={args.condition_on_label}"
        else:
            from skeletonllm.teacher.kinematic import observations
            from skeletonllm.teacher.prompt import instruction

            text = instruction(label, classes, args.condition_on_label, observations(seq))
            prompt = f"{args.backend} {args.model} {args.renderer}\n{text}"
        key = JsonlCache.key(sample_id, prompt)
        record = cache.get(key)
        if record is None:
            answer = (rationale(seq, label, args.condition_on_label) if teacher is None
                      else teacher.answer(seq, text))
            record = {"sample_id": sample_id, "answer": answer}
            cache.put(key, record)
        text_out = record["answer"] if args.keep_final_label else drop_label_line(record["answer"])
        lines.append(json.dumps({"sample_id": sample_id, "label": int(row["label"]), "label_name": label,
                                 "rationale": text_out, "backend": args.backend,
                                 "condition_on_label": args.condition_on_label,
                                 "keep_final_label": args.keep_final_label}))
    _write_atomic(args.out / "rationales.jsonl", lines)
    print(f"wrote {len(lines)} rationales to {args.out / 'rationales.jsonl'} ({len(cache)} cached answers)")
    return 0
