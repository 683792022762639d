"""The contract a teacher answer meets before it becomes training data.

An answer is kept only when it is complete (not cut off at the token limit), has reasoning, and its last line is
``Label: <label>`` naming the sample's true class (case, markdown emphasis, quotes and a final period aside). `check`
returns the kept text with that line in its exact form, or raises BadAnswer saying what is wrong. A wrong class is
refused with or without condition_on_label: a rationale that argues for another class teaches the wrong thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a last line "Label: <label>", also written "**Label:** <label>." or "label: '<label>'"
LOOSE_LABEL_LINE = re.compile(r"^[*_\s]*label[*_\s]*:[*_\s]*(?P<label>.*?)[*_\s.]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """One answer of a teacher backend: its text, and whether generation stopped at the token limit."""

    text: str
    cut_off: bool = False


class BadAnswer(ValueError):
    """An answer that breaks the contract; the message says how."""


def _canonical(label: str) -> str:
    """A label compared loosely: quotes dropped, spaces collapsed, case folded."""
    return " ".join(label.strip().strip("'\"`").split()).casefold()


def check(answer: Answer, label: str) -> str:
    """The answer as training text, ending with the exact line ``Label: <label>``; BadAnswer when it is empty, cut
    off, has no reasoning, or does not end with a Label line naming `label`."""
    lines = [line.rstrip() for line in answer.text.strip().splitlines()]
    if not lines:
        raise BadAnswer("empty answer")
    if answer.cut_off:
        raise BadAnswer(f"cut off at the token limit: ...{answer.text.strip()[-80:]!r}")
    match = LOOSE_LABEL_LINE.match(lines[-1])
    if match is None:
        raise BadAnswer(f"does not end with a 'Label: <label>' line; last line: {lines[-1][:80]!r}")
    if _canonical(match["label"]) != _canonical(label):
        raise BadAnswer(f"ends with 'Label: {match['label']}', but the sample is {label!r}")
    reasoning = "\n".join(lines[:-1]).strip()
    if not reasoning:
        raise BadAnswer("no reasoning before the 'Label:' line")
    return f"{reasoning}\nLabel: {label}"
