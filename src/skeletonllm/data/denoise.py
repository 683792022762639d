"""Denoise the bodies of Kinect clips (NTU, PKU-MMD) before normalization, in the order of CTR-GCN's NTU toolkit
(get_raw_denoised_data), on the raw camera coordinates (metres, y up).

Kinect tracking splits one performer over several body ids (an id switch), adds short-lived ghosts and "flat"
noise bodies (false detections, wider than tall). The rules, in order:

1. ghost: a body present in GHOST_MAX_FRAMES frames or fewer is dropped;
2. flat noise: a body is dropped when, in FLAT_FRAME_SHARE or more of its frames, the spread (max - min over its
   joints) of x exceeds FLAT_SPREAD_RATIO times the spread of y;
3. actors: the remaining bodies, by motion energy (highest first), form at most 2 actors; each joins actor 1 when
   it never shares a frame with it, else actor 2 when it never shares a frame with that one (merged: an id switch),
   else it is dropped (extra).

When rule 1 or 2 would drop every remaining body, that rule is skipped (CTR-GCN keeps the unfiltered set then).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from skeletonllm.data.normalize import motion_energy
from skeletonllm.formats.sequence import SkeletonSequence, body_presence

DENOISED_FORMATS = ("ntu", "pku")  # the Kinect formats
GHOST_MAX_FRAMES = 10
FLAT_SPREAD_RATIO = 0.8
FLAT_FRAME_SHARE = 0.69754  # CTR-GCN's noise_spr_thres2
ACTORS = 2
PER_SLOT_META = ("body_present", "body_info", "joint_extra")  # meta arrays [T, M, ...] that follow the body slots


@dataclass(frozen=True)
class BodyDecision:
    """A body that denoising dropped or merged.

    body: its Kinect body id (meta["body_ids"]), or "slot N" (1-based) when the format has no ids (PKU-MMD);
    reason: "ghost", "flat noise", "merged" or "extra"; detail: the figures behind the decision.
    """

    body: str
    reason: str
    detail: str


def describe_denoising(format: str) -> dict:
    """The denoising rules as recorded in manifest.json, and whether they apply to this format."""
    return {
        "applied": format in DENOISED_FORMATS,
        "formats": list(DENOISED_FORMATS),
        "ghost": f"a body present in {GHOST_MAX_FRAMES} frames or fewer is dropped",
        "flat_noise": f"a body is dropped when in a share of {FLAT_FRAME_SHARE} or more of its frames the x spread "
        f"(max - min over its joints) exceeds {FLAT_SPREAD_RATIO} times the y spread (raw camera coordinates, y up)",
        "actors": f"the remaining bodies, by motion energy (highest first), form at most {ACTORS} actors: each joins "
        "actor 1 when it never shares a frame with it (merged), else actor 2 likewise, else it is dropped (extra)",
        "fallback": "a rule that would drop every remaining body is skipped",
        "log": "denoise.csv: one row per dropped or merged body",
    }


def denoise_bodies(seq: SkeletonSequence) -> tuple[SkeletonSequence, list[BodyDecision]]:
    """The sequence with its bodies denoised into at most 2 slots (actor 1 first), and the decisions taken.

    Sequences of other formats than DENOISED_FORMATS, with a single body slot, or needing no decision come back
    unchanged with no decisions. Otherwise joints [T, A, J, C] (A <= 2 actors, by motion energy of the body leading
    each), scores, meta["body_ids"] (the id leading each actor) and the PER_SLOT_META arrays follow the new slots,
    and meta["denoise"] lists the decisions as dicts.
    """
    joints = seq.joints  # [T, M, J, C]
    num_frames, num_slots = joints.shape[:2]
    if seq.meta.get("format") not in DENOISED_FORMATS or num_slots < 2:
        return seq, []
    present = body_presence(joints)  # [T, M]
    frames = present.sum(axis=0)  # [M]
    names = [str(body) for body in seq.meta["body_ids"]] if "body_ids" in seq.meta else [
        f"slot {m + 1}" for m in range(num_slots)]
    decisions: list[BodyDecision] = []

    def drop(bodies: np.ndarray, noisy: np.ndarray, reason: str, detail: Callable[[int], str]) -> np.ndarray:
        """bodies (slot indices) without those flagged by noisy (bool [M]); all kept when every one is flagged."""
        flagged = noisy[bodies]
        if flagged.all():
            return bodies
        decisions.extend(BodyDecision(names[m], reason, detail(m)) for m in bodies[flagged])
        return bodies[~flagged]

    bodies = np.flatnonzero(frames)  # slots holding a body in some frame
    bodies = drop(bodies, frames <= GHOST_MAX_FRAMES, "ghost",
                  lambda m: f"present in {frames[m]} frames (at most {GHOST_MAX_FRAMES})")
    flat = _flat_frame_share(joints, present)  # [M]
    bodies = drop(bodies, flat >= FLAT_FRAME_SHARE, "flat noise",
                  lambda m: f"x spread above {FLAT_SPREAD_RATIO} of the y spread in {flat[m]:.0%} of its {frames[m]} "
                  "frames")
    energy = motion_energy(joints, present)  # [M]
    actors = _actors(bodies[np.argsort(-energy[bodies], kind="stable")], present, names, decisions)
    if not decisions:  # at most 2 bodies, which share frames when there are 2: nothing to change
        return seq, []
    meta = dict(seq.meta)
    if "body_ids" in meta:
        meta["body_ids"] = [names[members[0]] for members in actors]
    for key in PER_SLOT_META:
        if key in meta:
            meta[key] = _reslot(np.asarray(meta[key]), actors, present)
    meta["denoise"] = [asdict(decision) for decision in decisions]
    scores = None if seq.scores is None else _reslot(seq.scores, actors, present)
    return SkeletonSequence(_reslot(joints, actors, present), scores, seq.topology, seq.fps, meta), decisions


def _flat_frame_share(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """float [M]: per body slot, the share of its frames in which its x spread exceeds FLAT_SPREAD_RATIO times its
    y spread (spread: max - min over the joints). joints [T, M, J, C], present bool [T, M]."""
    x, y = joints[..., 0], joints[..., 1]  # [T, M, J]
    flat = (x.max(axis=2) - x.min(axis=2)) > FLAT_SPREAD_RATIO * (y.max(axis=2) - y.min(axis=2))  # [T, M]
    return (flat & present).sum(axis=0) / np.maximum(present.sum(axis=0), 1)


def _actors(ranked: np.ndarray, present: np.ndarray, names: list[str],
            decisions: list[BodyDecision]) -> list[list[int]]:
    """The body slots of each actor (at most ACTORS), from the bodies ranked by motion energy; appends the merged
    and extra bodies to decisions. present: bool [T, M]."""
    actors: list[list[int]] = []
    occupied: list[np.ndarray] = []  # bool [T] per actor: the frames it holds
    for m in ranked.tolist():
        free = [a for a, held in enumerate(occupied) if not (held & present[:, m]).any()]
        if free:
            actor = free[0]
            actors[actor].append(m)
            occupied[actor] = occupied[actor] | present[:, m]
            lead = names[actors[actor][0]]
            decisions.append(BodyDecision(names[m], "merged", f"into {lead}: never in a frame with that actor"))
        elif len(actors) < ACTORS:
            actors.append([m])
            occupied.append(present[:, m])
        else:
            leads = " and ".join(names[members[0]] for members in actors)
            decisions.append(BodyDecision(names[m], "extra", f"shares frames with both actors ({leads})"))
    return actors


def _reslot(values: np.ndarray, actors: list[list[int]], present: np.ndarray) -> np.ndarray:
    """values [T, M, ...] gathered into one slot per actor: [T, len(actors), ...]; a merged body fills its actor's
    slot in the frames where it is present (present: bool [T, M])."""
    if all(len(members) == 1 for members in actors):
        return values[:, [members[0] for members in actors]]
    out = np.zeros((values.shape[0], len(actors), *values.shape[2:]), dtype=values.dtype)
    for actor, members in enumerate(actors):
        for m in members:
            out[present[:, m], actor] = values[present[:, m], m]
    return out
