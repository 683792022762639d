"""The offline `kinematic` teacher: a step-by-step causal rationale written from the measured motion of one sample.

Steps: who is seen and for how long; which parts move (most active first); when; which way, how far up and how
fast; contacts; whole-body motion; then a conclusion. With condition_on_label the conclusion relates the measured
main mover to the body part and side the label names; without it, the label text never appears before the final
``Label: <label>`` line (dropped when keep_final_label is false).
"""

from __future__ import annotations

import re

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.teacher.motion_facts import MotionFacts, PartMotion, measure

LABEL_LINE = re.compile(r"\n?Label: .*\Z")
LIMB_WORDS = {"hand": "arm", "hands": "arm", "arm": "arm", "arms": "arm", "punch": "arm", "clap": "arm",
              "leg": "leg", "legs": "leg", "foot": "leg", "kick": "leg", "head": "head", "hat": "head",
              "bow": "trunk"}


def _phase_words(phases: tuple[str, ...]) -> str:
    """'throughout the clip' / 'in the middle' / 'at the beginning and the end'."""
    if len(phases) == 3:
        return "throughout the clip"
    if not phases:
        return "only briefly"
    named = [("at the " if p != "middle" else "in the ") + p for p in phases]
    return " and ".join(named)


def _movement(part: PartMotion) -> str:
    """One sentence: which way the effector goes, how high, how often, how fast, whether it comes back."""
    text = f"The {part.effector} moves {part.direction}"
    if part.level and part.level not in ("waist height",):
        text += f", reaching {part.level}"
    if part.cycles:
        text += f", then goes back and forth about {part.cycles} times"
    text += f", {part.speed_word} (peak {part.peak_speed:.1f} torso lengths per second)"
    text += ", and returns to where it started" if part.returns else ", and stays in its new position"
    return text + "."


def _steps(facts: MotionFacts) -> list[str]:
    """The observation steps (no conclusion) of a rationale."""
    people = "one person" if facts.people == 1 else "two people"
    steps = [f"The clip shows {people} over {facts.seconds:.1f} s ({facts.frames} frames)."]
    moving = facts.moving
    still = [p.part for p in facts.parts if p not in moving]
    main = moving[0]
    text = f"The {main.part} moves most (its {main.effector} covers {main.extent:.1f} torso lengths)"
    if len(moving) > 1:
        text += "; the " + ", the ".join(f"{p.part} ({p.extent:.1f})" for p in moving[1:])
        text += " also moves" if len(moving) == 2 else " also move"
    if still:
        text += "; the " + ", the ".join(still) + (" stays" if len(still) == 1 else " stay") + " nearly still"
    steps.append(text + ".")
    steps.append("; ".join(f"the {p.part} is active {_phase_words(p.phases)}" for p in moving).capitalize() + ".")
    steps += [_movement(p) for p in moving[:3]]
    if facts.contacts:
        steps.append("Contacts: " + "; ".join(
            f"{c.kind} ({c.who}, {_phase_words(c.phases)})" for c in facts.contacts) + ".")
    else:
        steps.append("No contact happens: the hands stay away from the head, from each other and from any other "
                     "person.")
    if facts.body:
        steps.append("Whole body: " + "; ".join(facts.body) + ".")
    else:
        steps.append("The whole body stays in place: the movement is carried by the limbs.")
    if facts.partner_parts:
        steps.append("The second person moves the " + ", the ".join(facts.partner_parts) + ".")
    return steps


def _named_parts(label: str) -> tuple[str | None, str | None]:
    """(side, limb) a label names, e.g. ("right", "arm") for "wave right hand"; None where it names none."""
    words = re.findall(r"[a-z]+", label.lower())
    side = next((w for w in words if w in ("left", "right")), None)
    limb = next((LIMB_WORDS[w] for w in words if w in LIMB_WORDS), None)
    return side, limb


def _conclusion(facts: MotionFacts, label: str | None) -> str:
    """The reasoning step that ties the observations together (and to the label when it is given)."""
    main = facts.moving[0]
    pattern = "a repeated back-and-forth movement" if main.cycles else "a single movement"
    summary = f"{pattern} of the {main.part} going {main.direction}"
    if facts.contacts:
        summary += " with " + " and ".join(c.kind for c in facts.contacts)
    if label is None:
        return f"Putting the steps together, the action is {summary}, and the answer must explain exactly this."
    side, limb = _named_parts(label)
    text = f"Putting the steps together, the action is {summary}; this is what \"{label}\" describes"
    if limb:
        named = f"{side} {limb}" if side and limb not in ("head", "trunk") else limb
        movers = [p.part for p in facts.moving]
        if main.part.endswith(named):
            text += f": the label names the {named}, and the {main.part} is measured to move most"
        elif any(m.endswith(named) for m in movers):
            text += f": the label names the {named}, which is among the measured moving parts"
        else:
            text += f": the label names the {named}, although the {main.part} is measured to move most"
    return text + "."


def rationale(seq: SkeletonSequence, label: str, condition_on_label: bool = True,
              keep_final_label: bool = True) -> str:
    """The numbered rationale for one normalized sample; ends with ``Label: <label>`` when keep_final_label."""
    facts = measure(seq)
    steps = _steps(facts) + [_conclusion(facts, label if condition_on_label else None)]
    text = "\n".join(f"Step {i}: {step}" for i, step in enumerate(steps, 1))
    return text + (f"\nLabel: {label}" if keep_final_label else "")


def observations(seq: SkeletonSequence) -> str:
    """The measured observation steps of a sample as text (no conclusion, no label): context for model teachers."""
    return "\n".join(_steps(measure(seq)))


def drop_label_line(text: str) -> str:
    """The rationale without a trailing ``Label: ...`` line."""
    return LABEL_LINE.sub("", text.rstrip())
