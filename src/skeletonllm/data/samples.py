"""Turn one raw file into prepared samples or rejections; runs inside prepare's worker processes.

A file yields samples (one, or one per labelled segment for PKU-MMD), rejections (source, line, reason, category)
and the bodies that denoising dropped or merged in its samples (data/denoise.py, Kinect formats only: applied to
each sample, so to each PKU-MMD segment on its own, before normalization). Every file's sha256 is computed here,
from the bytes already read, so checksums cost no extra pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from skeletonllm.data.datasets import DatasetSpec, get_dataset, missing_samples
from skeletonllm.data.denoise import BodyDecision, denoise_bodies
from skeletonllm.data.normalize import EmptySequenceError, normalize_sequence
from skeletonllm.formats import SkeletonFormatError, SkeletonSequence, read

MAX_BODIES = 2
MISSING_LIST_REASON = "official missing-skeleton list"


@dataclass
class Rejection:
    """A file (or a PKU-MMD label line) that was not kept: line is 1-based or None."""

    source: str
    line: int | None
    reason: str
    category: str


@dataclass
class DenoisedBody:
    """A body that denoising dropped or merged in one sample: the sample, its file and the decision."""

    sample_id: str
    source: str
    decision: BodyDecision


@dataclass(frozen=True)
class SampleRules:
    """What every sample of a prepare run is checked and normalized against."""

    num_classes: int | None  # labels must lie in [0, num_classes); None: not known, not checked
    canonical: bool = True  # rotate 3D poses into the canonical body frame


@dataclass
class FileResult:
    """What one raw file produced. samples: index fields plus "joints" float32 [T, 2, J, C] each."""

    source: str
    checksums: dict[str, str]
    samples: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    denoised: list[DenoisedBody] = field(default_factory=list)


def _add_sample(seq: SkeletonSequence, fields: dict, sample_id: str, spec: DatasetSpec, rules: SampleRules,
                result: FileResult) -> None:
    """Denoise and normalize a sequence into one sample (index fields + joints) of result, with its denoising
    decisions; labels are checked against the classes first."""
    label, label_name = fields["label"], None
    if spec.content_label is not None:
        label, label_name = spec.content_label(seq.meta)
    if rules.num_classes and not 0 <= label < rules.num_classes:
        raise ValueError(f"label {label} is outside the dataset's {rules.num_classes} classes")
    denoised, decisions = denoise_bodies(seq)
    normalized = normalize_sequence(denoised, MAX_BODIES, rules.canonical)
    normalization = normalized.meta["normalization"]
    sample = {**fields, "sample_id": sample_id, "label": label, "file_label_name": label_name,
              "source": result.source, "bodies": len(normalization["kept_bodies"]),
              "rotation": normalization["rotation"], "fps": float(normalized.fps), "joints": normalized.joints}
    if "captions" in seq.meta:
        captions = [entry["caption"] for entry in seq.meta["captions"]]
        sample["caption"] = captions[0] if captions else ""
        sample["captions"] = captions
    result.samples.append(sample)
    result.denoised.extend(DenoisedBody(sample_id, result.source, decision) for decision in decisions)


def _label_file(spec: DatasetSpec, skeleton: Path) -> Path | None:
    for folder in spec.label_dirs:
        candidate = skeleton.parent.parent / folder / skeleton.name
        if candidate.is_file():
            return candidate
    return None


def _segments(seq: SkeletonSequence, fields: dict, skeleton: Path, raw: Path, spec: DatasetSpec,
              rules: SampleRules, result: FileResult) -> None:
    """Cut PKU-MMD segments (label file rows `action,start,end,confidence`, action 1-based) into samples."""
    label_path = _label_file(spec, skeleton)
    if label_path is None:
        result.rejections.append(Rejection(result.source, None, f"no label file in {spec.label_dirs}", "no label file"))
        return
    label_source = label_path.relative_to(raw).as_posix()
    data = label_path.read_bytes()
    result.checksums[label_source] = hashlib.sha256(data).hexdigest()
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            action, start, end = (int(float(value)) for value in line.replace(" ", "").split(",")[:3])
            if not 0 <= start < end <= seq.num_frames:
                raise ValueError(f"segment {start}..{end} is outside the {seq.num_frames} frames of {result.source}")
            scores = None if seq.scores is None else seq.scores[start:end]
            part = SkeletonSequence(seq.joints[start:end], scores, seq.topology, seq.fps, dict(seq.meta))
            _add_sample(part, {**fields, "label": action - 1, "frame_start": start, "frame_end": end},
                        f"{skeleton.stem}_{number:03d}", spec, rules, result)
        except (ValueError, EmptySequenceError) as exc:
            result.rejections.append(Rejection(label_source, number, f"bad segment: {exc}", "bad segment"))
    if not result.samples:
        result.rejections.append(Rejection(result.source, None, f"no segment kept (see {label_source})",
                                           "no segment kept"))


def process_file(spec: DatasetSpec, raw: Path, path: Path, rules: SampleRules) -> FileResult:
    """Read, label, denoise and normalize one raw file; every failure becomes a Rejection naming the line and reason."""
    source = path.relative_to(raw).as_posix()
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(source, {}, rejections=[Rejection(source, None, f"unreadable: {exc}", "unreadable")])
    result = FileResult(source, {source: hashlib.sha256(data).hexdigest()})
    for companion in spec.companions(path) if spec.companions else ():
        if companion.is_file():
            result.checksums[companion.relative_to(raw).as_posix()] = hashlib.sha256(companion.read_bytes()).hexdigest()

    def reject(line: int | None, reason: str, category: str) -> FileResult:
        result.rejections.append(Rejection(source, line, reason, category))
        return result

    try:
        fields = spec.fields(path, raw)
    except ValueError as exc:
        return reject(None, str(exc), "unrecognized file name")
    if spec.select is not None and not spec.select(fields):
        return reject(None, f"not part of {spec.name}: {spec.select_rule}", "not in dataset")
    if spec.missing_list and path.stem in missing_samples(spec.missing_list):
        return reject(None, MISSING_LIST_REASON, MISSING_LIST_REASON)
    try:
        seq = read(path, spec.format)
    except SkeletonFormatError as exc:
        return reject(exc.line, exc.reason, "format error")
    if spec.label_dirs:
        _segments(seq, fields, path, raw, spec, rules, result)
        return result
    try:
        _add_sample(seq, fields, path.stem, spec, rules, result)
    except EmptySequenceError:
        return reject(None, f"no body in any of its {seq.num_frames} frames", "no body")
    except (ValueError, KeyError) as exc:
        return reject(None, f"label: {exc}", "label error")
    return result


def process_chunk(dataset: str, raw: str, rules: SampleRules, paths: list[str]) -> list[FileResult]:
    """process_file over a chunk of paths (the unit of work sent to a worker process)."""
    spec, root = get_dataset(dataset), Path(raw)
    return [process_file(spec, root, Path(path), rules) for path in paths]

