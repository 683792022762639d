"""Mine hard negatives: each class's top-k most similar classes (embedding, kinematic, llm or file backend).

Writes OUT/hard_negatives.json ({"class": [neighbours]} in class id order), hard_negatives.md and
hard_negatives.png (default OUT: results/mining/<dataset>). With --compare REF.json it also scores the result
against a reference list (overlap@k and Jaccard, classes matched by id) and writes OUT/comparison.json; with
--json it prints {"overlap_at_k", "jaccard", "classes", ...} (or the output paths without --compare).

  skeletonllm mine --classes ntu60 --backend embedding --top-k 5 \\
      --compare src/skeletonllm/resources/ntu60_similar_actions.json --json
  skeletonllm mine --classes results/data/synth --backend kinematic
  skeletonllm mine --classes ntu60 --backend llm --base-url http://127.0.0.1:8000/v1 --model my-model
  skeletonllm mine --classes ntu60 --backend llm --model path/to/local/causal-lm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skeletonllm.errors import CommandError
from skeletonllm.remote.options import add_model_arguments, chat_client

BACKENDS = ("embedding", "kinematic", "llm", "file")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `skeletonllm mine`."""
    parser.add_argument("--classes", required=True,
                        help="dataset with built-in classes (ntu60, ntu120, nwucla, pkummd, synth) or a prepared "
                             "dataset folder (results/data/<dataset>)")
    parser.add_argument("--backend", choices=BACKENDS, default="embedding",
                        help="similarity source (default embedding); llm: a chat model at --base-url, or a local "
                             "transformers causal LM (--model FOLDER)")
    parser.add_argument("--top-k", type=int, default=5, help="neighbours per class (default 5)")
    parser.add_argument("--data", type=Path, help="prepared dataset folder for --backend kinematic "
                                                  "(default: --classes when it is a folder)")
    parser.add_argument("--file", type=Path, help="JSON {class: [neighbours]} for --backend file (classes by id)")
    parser.add_argument("--descriptions", type=Path,
                        help="JSON {class: short description} embedded instead of the class name (embedding)")
    add_model_arguments(parser)
    parser.add_argument("--cache", type=Path, help="JSONL answer cache for llm (default OUT/llm_cache.jsonl)")
    parser.add_argument("--compare", type=Path, help="reference JSON to score against (overlap@k, Jaccard)")
    parser.add_argument("--out", type=Path, help="output folder (default results/mining/<dataset>)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _llm_model(args: argparse.Namespace):
    """(client, model id) for the llm backend: an endpoint (--base-url and --model) or a local model (--model)."""
    if not args.model:
        raise ValueError("--backend llm needs --base-url and --model (an OpenAI-compatible endpoint) "
                         "or --model alone (a local transformers model folder)")
    if args.base_url:
        return chat_client(args), f"{args.base_url}:{args.model}"
    from skeletonllm.mining.llm import LocalCausalLM

    return LocalCausalLM(args.model), f"local:{args.model}"


def mine(args: argparse.Namespace, names: tuple[str, ...], out: Path) -> dict[str, list[str]]:
    """The hard-negative mapping of the chosen backend."""
    from skeletonllm.mining import neighbours

    neighbours.check_k(args.top_k, len(names))
    if args.backend == "embedding":
        from skeletonllm.mining import embedding

        descriptions = json.loads(args.descriptions.read_text()) if args.descriptions else None
        return neighbours.top_k(names, embedding.similarity(names, descriptions), args.top_k)
    if args.backend == "kinematic":
        from skeletonllm.mining import kinematic

        data = args.data or (Path(args.classes) if Path(args.classes).is_dir() else None)
        if data is None:
            raise ValueError("--backend kinematic needs a prepared dataset: --data results/data/<dataset>")
        features, groups = kinematic.class_features(data, len(names))  # [N, F]
        return neighbours.top_k(names, kinematic.similarity(features, groups), args.top_k)
    if args.backend == "llm":
        from skeletonllm.mining import llm

        client, model_id = _llm_model(args)
        return llm.rank(names, args.top_k, client, args.cache or out / "llm_cache.jsonl", model_id, temperature=0)
    if args.file is None:
        raise ValueError("--backend file needs --file NEIGHBOURS.json")
    from skeletonllm.mining.file import from_file

    return from_file(args.file, names, args.top_k)


def run(args: argparse.Namespace) -> int:
    """Mine, write the outputs, optionally compare; returns 0. Bad input and an unreachable or failing endpoint are
    CommandErrors (remote.chat.ChatError is one)."""
    from skeletonllm.mining import compare, views
    from skeletonllm.mining.classes import resolve_classes

    try:
        class_list = resolve_classes(args.classes)
        out = args.out or Path("results/mining") / class_list.dataset
        mined = mine(args, class_list.names, out)
        reference = compare.load_reference(args.compare) if args.compare else None
        scores = (compare.compare(mined, class_list.names, reference, args.top_k, str(args.compare))
                  if reference is not None else None)
    except (ValueError, OSError) as error:
        raise CommandError(str(error)) from None
    title = f"Hard negatives of {class_list.dataset} ({args.backend}, top {args.top_k})"
    paths = views.write_all(out, class_list.names, mined, title)
    summary: dict = {"backend": args.backend, "dataset": class_list.dataset,
                     "outputs": {suffix: str(path) for suffix, path in paths.items()}}
    if scores is not None:
        (out / "comparison.json").write_text(json.dumps({"reference": str(args.compare), **scores}, indent=2) + "\n")
        summary = {key: scores[key] for key in ("overlap_at_k", "jaccard", "classes", "k")} | summary
    if args.json:
        print(json.dumps(summary))
    elif scores is not None:
        print(f"{class_list.dataset} {args.backend}: overlap@{args.top_k} = {scores['overlap_at_k']:.3f}, "
              f"Jaccard = {scores['jaccard']:.3f} over {scores['classes']} classes vs {args.compare}")
    else:
        print(f"wrote {', '.join(str(path) for path in paths.values())}")
    return 0
