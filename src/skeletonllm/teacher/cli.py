"""Write teacher rationales for the training samples of a split (rationales.jsonl, cached and resumable).

Reads a prepared dataset (poses.npy, index.parquet, manifest.json: poses, class names, each sample's frame rate)
and a split json (its "train" ids), asks the chosen backend for one rationale per sample and keeps it only when it
meets the contract (teacher.answer: complete, reasoned, ending with "Label: <label>" of the true class). A bad
answer is asked again, sampled, up to --answer-attempts times; a sample without a good answer is recorded in
OUT/rejected.jsonl, never written as training data. Every answer is cached in OUT/cache.jsonl keyed by sample,
prompt and attempt (a killed run resumes without redoing finished samples). OUT/rationales.jsonl gets sample_id,
label, label_name, rationale and backend per line.

  skeletonllm teach --dataset synth --data results/data/synth --split results/splits/synth/xsub/s19u5.json \\
      --out results/teacher/synth/xsub_s19u5 --backend openai --base-url http://127.0.0.1:8000/v1 --model my-vlm
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from skeletonllm.errors import CommandError
from skeletonllm.remote.cache import JsonlCache
from skeletonllm.remote.options import add_model_arguments, chat_client
from skeletonllm.teacher.answer import Answer, BadAnswer, check

BACKENDS = ("kinematic", "openai", "hf")
KINEMATIC_VERSION = "kinematic-v1"  # part of the kinematic prompt: bump it when the rationale text changes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm teach`."""
    parser.add_argument("--dataset", required=True, help="dataset name (recorded in the output)")
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset directory")
    parser.add_argument("--split", required=True, type=Path, help="split json; its 'train' sample ids are taught")
    parser.add_argument("--backend", choices=BACKENDS, default="kinematic",
                        help="kinematic: written from each sample's measured motion, offline (default); openai: a "
                             "vision-language model at an OpenAI-compatible endpoint (--base-url, --model); hf: a "
                             "local transformers vision-language model (--model FOLDER). openai and hf are shown "
                             "frames drawn by --renderer")
    parser.add_argument("--condition-on-label", action=argparse.BooleanOptionalAction, default=True,
                        help="give the teacher the true label (default: yes)")
    parser.add_argument("--keep-final-label", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the final 'Label: <label>' line (default: yes)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output directory (rationales.jsonl, rejected.jsonl, cache.jsonl)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N training samples")
    parser.add_argument("--renderer", help="DrAction checkpoint folder (DrAction.save) that draws the frames for "
                                           "openai and hf (default: a fresh DrAction, which draws every format)")
    add_model_arguments(parser)
    parser.add_argument("--answer-attempts", type=int, default=3,
                        help="answers asked per sample until one meets the contract; the first greedy, the others "
                             "sampled (openai, hf; default 3)")


def _model_teacher(args: argparse.Namespace):
    """(teacher, cache name) of the openai or hf backend named by args."""
    from skeletonllm.teacher.prompt import load_renderer

    needed = ["model"] + (["base_url"] if args.backend == "openai" else [])
    missing = ["--" + name.replace("_", "-") for name in needed if not getattr(args, name)]
    if missing:
        raise CommandError(f"--backend {args.backend} needs {' '.join(missing)}")
    try:
        renderer, renderer_name = load_renderer(args.renderer)
        if args.backend == "openai":
            from skeletonllm.teacher.openai import OpenAITeacher

            teacher = OpenAITeacher(renderer, chat_client(args))
        else:
            from skeletonllm.teacher.hf import HFTeacher

            teacher = HFTeacher(renderer, args.model)
    except (ValueError, OSError) as error:  # a bad checkpoint, model folder or URL
        raise CommandError(str(error)) from None
    return teacher, f"{args.backend} {args.model} {renderer_name}"


def _train_ids(split: Path) -> list[str]:
    """The "train" sample ids of a split file; CommandError when it cannot be read or has none."""
    try:
        content = json.loads(split.read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"{split}: cannot read the split: {getattr(error, 'strerror', None) or error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("train"), list):
        raise CommandError(f"{split}: no 'train' list of sample ids")
    return list(content["train"])


def _write_atomic(path: Path, lines: list[str]) -> None:
    """Write lines to path through a temporary file, so a kill never leaves a half-written output."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        f.writelines(line + "\n" for line in lines)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _teach(ask: Callable[[int], Answer], cache: JsonlCache, sample_id: str, prompt: str, label: str,
           attempts: int) -> tuple[str | None, list[dict]]:
    """(training text or None, the rejected answers with their problems) of one sample: answers from the cache or
    from ask(attempt), until one meets the contract or the attempts run out."""
    rejected = []
    for attempt in range(attempts):
        key = cache.key(sample_id, f"{prompt}\nattempt {attempt}")
        record = cache.get(key)
        if record is None:
            answer = ask(attempt)
            record = {"sample_id": sample_id, "attempt": attempt, "answer": answer.text, "cut_off": answer.cut_off}
            cache.put(key, record)
        try:
            return check(Answer(record["answer"], record["cut_off"]), label), rejected
        except BadAnswer as problem:
            rejected.append({"attempt": attempt, "problem": str(problem), "answer": record["answer"]})
    return None, rejected


def run(args: argparse.Namespace) -> int:
    """Teach every training sample of the split; returns 0. CommandError when the inputs are unusable, the endpoint
    fails, or no answer met the contract."""
    from skeletonllm.data.prepared import PreparedDataset
    from skeletonllm.formats.sequence import SkeletonSequence
    from skeletonllm.progress import progress
    from skeletonllm.teacher.kinematic import drop_label_line, observations, rationale
    from skeletonllm.teacher.prompt import instruction

    if args.answer_attempts < 1:
        raise CommandError(f"--answer-attempts must be at least 1, got {args.answer_attempts}")
    data = PreparedDataset(args.data)  # DatasetError, a CommandError, for a missing or broken store
    ids = _train_ids(args.split)[: args.limit]
    rows = [data.row(sample_id) for sample_id in ids]  # ... and for an unknown sample id
    classes = data.class_names()
    teacher, name = (None, KINEMATIC_VERSION) if args.backend == "kinematic" else _model_teacher(args)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = JsonlCache(args.out / "cache.jsonl")
    lines, rejected = [], []
    for sample_id, row in zip(progress(ids, f"teach {args.dataset} ({args.backend})", unit="sample"), rows):
        fps = float(row["fps"])
        seq = SkeletonSequence(data.joints(sample_id), None, data.topology, fps, {"sample_id": sample_id})
        label = data.class_name(int(row["label"]))
        if teacher is None:
            prompt = f"{name} fps={fps:g} label={label!r} condition_on_label={args.condition_on_label}"
            text, problems = _teach(lambda _: Answer(rationale(seq, label, args.condition_on_label)), cache,
                                    sample_id, prompt, label, 1)
        else:
            question = instruction(label, classes, args.condition_on_label, observations(seq))
            text, problems = _teach(lambda attempt: teacher.answer(seq, question, attempt), cache, sample_id,
                                    f"{name}\n{question}", label, args.answer_attempts)
        record = {"sample_id": sample_id, "label": int(row["label"]), "label_name": label, "backend": args.backend}
        if text is None:
            rejected.append(json.dumps(record | {"answers": problems}))
            continue
        lines.append(json.dumps(record | {"rationale": text if args.keep_final_label else drop_label_line(text),
                                          "condition_on_label": args.condition_on_label,
                                          "keep_final_label": args.keep_final_label}))
    _write_atomic(args.out / "rejected.jsonl", rejected)
    _write_atomic(args.out / "rationales.jsonl", lines)
    print(f"wrote {len(lines)} rationales to {args.out / 'rationales.jsonl'}, {len(rejected)} samples rejected "
          f"({len(cache)} cached answers)")
    if rejected and not lines:
        raise CommandError(f"no answer met the contract (ends with 'Label: <label>', not empty, not cut off); "
                           f"see {args.out / 'rejected.jsonl'}")
    return 0
