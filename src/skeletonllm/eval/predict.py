"""Ask a trained stage about one skeleton file of any format: which action (among candidates), a question, or a caption.

    skeletonllm predict S001C001P001R001A001.skeleton --checkpoint results/train/synth/full/stage4 \\
        --candidates "clap hands,wave right hand,bow"
    skeletonllm predict walk.bvh --checkpoint DIR --question "Which hand moves most?"
    skeletonllm predict 000021.npy --checkpoint DIR --caption

FILE is read by its format's reader (ntu .skeleton, NW-UCLA json, PKU-MMD txt, HumanML3D npy, Kinetics-skeleton
json, BVH; --format when the extension does not tell) and normalized as prepare normalizes. The stage's DrAction
renders its frames at the segment centres. With --candidates the answer is the greedy generated text, with the
likelihood ranking of the candidates beside it; a stage-3 checkpoint (CR-Distill) is asked to reason, and its
reasoning is printed before the `Label:` it ends with. The rendered GIF (render.gif, with the frame PNGs and a
contact sheet) and prediction.json (the answer and what was asked) are written to --out.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from skeletonllm.errors import CommandError
from skeletonllm.formats import FORMATS

REASONING_TOKENS = 200  # room for a teacher-style rationale
LABEL_LINE = re.compile(r"label\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a skeleton file of any supported format")
    parser.add_argument("--checkpoint", type=Path, required=True, help="a stage directory of `skeletonllm train`")
    ask = parser.add_mutually_exclusive_group(required=True)
    ask.add_argument("--candidates", help="comma-separated action names to choose from")
    ask.add_argument("--question", help="a free question about the motion")
    ask.add_argument("--caption", action="store_true", help="describe the motion in one sentence")
    parser.add_argument("--format", choices=FORMATS, default=None, help="the file's format (default: detected)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the GIF and prediction.json go (default: predictions/<file stem>)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="answer length limit (default 32)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    parser.add_argument("--json", action="store_true", help="print the prediction as one JSON object")


def parse_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, label) of a CR-Distill answer ending with a `Label: <action>` line (label "" when none)."""
    found = list(LABEL_LINE.finditer(text))
    if not found:
        return text.strip(), ""
    return text[: found[-1].start()].strip(), found[-1].group(1).strip()


def question_of(args: argparse.Namespace, stage: int):
    """The prompt Example of what was asked (the answer field unused), and the candidates (empty unless asked)."""
    from skeletonllm.model import prompts

    if args.candidates is None:
        text = prompts.CAPTION_QUESTION if args.caption else args.question
        return prompts.question(text, ""), ()
    candidates = tuple(dict.fromkeys(name.strip() for name in args.candidates.split(",") if name.strip()))
    if len(candidates) < 2:
        raise CommandError(f"--candidates {args.candidates!r}: give at least two distinct action names")
    if stage == 3:
        return prompts.Example(prompts.REASON_QUESTION.format(options=prompts.options_text(candidates)), ""), candidates
    return prompts.mqa(candidates[0], candidates), candidates


def predict(args: argparse.Namespace) -> dict:
    """Render the file, ask the checkpoint, write the GIF and prediction.json; returns the prediction."""
    import torch

    from skeletonllm.eval import score
    from skeletonllm.eval.cli import stage_config
    from skeletonllm.eval.metrics import match_candidate
    from skeletonllm.render.images import rendered_frames, write_clip_images
    from skeletonllm.render.samples import load_raw_clip
    from skeletonllm.train.data import segment_frames
    from skeletonllm.train.run import load_stage, resolve_device

    stage = stage_config(args.checkpoint)["stage"]["number"]
    clip = load_raw_clip(args.file, args.format)
    device = resolve_device(args.device)
    model, processor = load_stage(args.checkpoint, "auto")
    model.to(device).eval()
    example, candidates = question_of(args, stage)
    joints = clip.joints[segment_frames(len(clip.joints), model.frames)]  # [F, M, J, C]
    with torch.no_grad():
        pixel_values = model.pixel_values(torch.from_numpy(joints)[None].to(device), clip.topology.name)
    prompt = score.prompt_ids(processor, example.question, model.frames)
    limit = REASONING_TOKENS if stage == 3 and candidates else args.max_new_tokens
    text = score.generate_answers(model, processor, pixel_values, [prompt], limit)[0]
    prediction = {"file": str(args.file), "topology": clip.topology.name, "checkpoint": str(args.checkpoint),
                  "stage": stage, "question": example.question, "answer": text}
    if candidates:
        reasoning, label = parse_reasoning(text) if stage == 3 else ("", text)
        scores = score.candidate_logprobs(model, pixel_values, prompt, score.answer_ids(processor, list(candidates)))
        prediction.update(answer=label, reasoning=reasoning or None, candidates=list(candidates),
                          parsed=match_candidate(label, candidates),
                          likelihood={name: float(value) for name, value in zip(candidates, scores)},
                          likelihood_choice=candidates[int(scores.argmax())])
    out = args.out or Path("predictions") / clip.name
    images = write_clip_images(rendered_frames(model.renderer, joints, clip.topology, device), out)
    prediction["gif"] = str(images["gif"])
    (out / "prediction.json").write_text(json.dumps(prediction, indent=2) + "\n")
    return prediction


def run(args: argparse.Namespace) -> int:
    """Predict and print the answer (JSON with --json)."""
    from skeletonllm.data.normalize import EmptySequenceError
    from skeletonllm.formats import SkeletonFormatError

    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    if args.max_new_tokens < 1:
        raise CommandError("--max-new-tokens must be >= 1")
    try:
        prediction = predict(args)
    except (SkeletonFormatError, EmptySequenceError) as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps(prediction, indent=2))
        return 0
    if prediction.get("reasoning"):
        print(prediction["reasoning"])
    print(f"answer: {prediction['answer']}")
    if "likelihood_choice" in prediction:
        print(f"most likely candidate: {prediction['likelihood_choice']}")
    print(f"wrote {prediction['gif']} and {Path(prediction['gif']).parent / 'prediction.json'}")
    return 0
