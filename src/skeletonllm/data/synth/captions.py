"""Templated captions of the synthetic single-person actions, with HumanML3D-style word/POS tokens.

A caption is "<who> <phrase>." (e.g. "a person waves with the right hand."); its tokens are lemma/UPOS pairs
from a small closed lexicon, as in HumanML3D's texts (``caption#tokens#start#end``).
"""

from __future__ import annotations

import numpy as np

WHO = ("a person", "someone", "a man", "a woman", "the person")

PHRASES: dict[str, tuple[str, ...]] = {
    "drink water": ("drinks water from a cup", "raises a cup to the mouth and drinks",
                    "lifts the right hand to the mouth to drink"),
    "sit down": ("sits down", "sits down on a chair", "bends the knees and sits down slowly"),
    "stand up": ("stands up", "stands up from a chair", "rises slowly from a seated position"),
    "clap hands": ("claps the hands", "claps several times in front of the chest", "applauds with both hands"),
    "wave right hand": ("waves with the right hand", "raises the right hand and waves",
                        "waves the right hand from side to side"),
    "wave left hand": ("waves with the left hand", "raises the left hand and waves",
                       "waves the left hand from side to side"),
    "kick with left leg": ("kicks forward with the left leg", "kicks with the left foot",
                           "lifts the left leg and kicks"),
    "kick with right leg": ("kicks forward with the right leg", "kicks with the right foot",
                            "lifts the right leg and kicks"),
    "put on hat": ("puts on a hat", "lifts a hat and places it on the head", "puts a cap on the head with both hands"),
    "take off hat": ("takes off a hat", "removes a hat from the head with both hands", "takes the cap off the head"),
    "jump up": ("jumps up", "jumps straight up in place", "bends the knees and jumps up"),
    "squat down": ("squats down and stands back up", "squats down", "bends the knees into a squat"),
    "raise both hands": ("raises both hands", "lifts both arms above the head", "puts both hands up"),
    "punch forward": ("punches forward", "throws punches with both fists", "punches the air in front"),
    "bow": ("bows", "bows forward at the waist", "bends the upper body forward in a bow"),
    "touch head": ("touches the head", "puts the right hand on the head", "holds the head with the right hand"),
    "throw": ("throws something", "throws an object forward with the right hand", "winds up and throws a ball"),
    "walk in place": ("walks in place", "marches on the spot", "steps in place lifting the knees"),
    "salute": ("salutes", "raises the right hand to the forehead in a salute", "gives a salute with the right hand"),
}

_POS = {  # part of speech of every lemma that is not a verb here
    "DET": "a an the both",
    "ADJ": "right left seated upper several",
    "NOUN": "person man woman water cup mouth hand chair knee position time front chest side leg foot hat head cap "
            "air body waist bow fist punch object ball spot arm forehead salute squat place",
    "PRON": "someone something it",
    "ADP": "from to on of in with into at above off",
    "CCONJ": "and",
    "ADV": "down up slowly forward back straight",
}
_TAG = {lemma: pos for pos, lemmas in _POS.items() for lemma in lemmas.split()}
_LEMMA = {  # inflected form -> lemma
    "drinks": "drink", "raises": "raise", "lifts": "lift", "sits": "sit", "bends": "bend", "stands": "stand",
    "rises": "rise", "claps": "clap", "applauds": "applaud", "waves": "wave", "kicks": "kick", "puts": "put",
    "places": "place", "removes": "remove", "takes": "take", "jumps": "jump", "squats": "squat", "punches": "punch",
    "throws": "throw", "bows": "bow", "touches": "touch", "holds": "hold", "walks": "walk", "marches": "march",
    "steps": "step", "salutes": "salute", "gives": "give", "winds": "wind", "lifting": "lift", "knees": "knee",
    "hands": "hand", "times": "time", "arms": "arm", "fists": "fist",
}


def caption_tokens(who: str, phrase: str) -> str:
    """HumanML3D tokens of "<who> <phrase>": space-separated lemma/POS. A verb is the phrase's first word, a word
    after "and" or after an infinitive "to", or an -ing form."""
    head, words = who.split(), phrase.split()
    verbs = {0} | {i + 1 for i, w in enumerate(words[:-1]) if w == "and"}
    verbs |= {i for i, w in enumerate(words) if w.endswith("ing") and w in _LEMMA}
    verbs |= {i + 1 for i, w in enumerate(words[:-1]) if w == "to" and words[i + 1] not in _TAG}
    out = [f"{w}/{_TAG[w]}" for w in head]
    for index, word in enumerate(words):
        lemma = _LEMMA.get(word, word)
        if index in verbs:
            pos = "VERB"
        elif word == "to" and index + 1 in verbs:
            pos = "PART"
        elif lemma in _TAG:
            pos = _TAG[lemma]
        else:
            raise KeyError(f"word {word!r} of phrase {phrase!r} is not in the caption lexicon")
        out.append(f"{lemma}/{pos}")
    return " ".join(out)


def captions_for(name: str, rng: np.random.Generator, count: int = 3) -> list[dict]:
    """``count`` distinct captions of a single-person class as HumanML3D caption dicts (whole clip: start=end=0)."""
    if name not in PHRASES:
        raise KeyError(f"no captions for {name!r}; captioned classes: {sorted(PHRASES)}")
    out = []
    for phrase_index in rng.permutation(len(PHRASES[name]))[:count]:
        who, phrase = WHO[int(rng.integers(len(WHO)))], PHRASES[name][phrase_index]
        out.append({"caption": f"{who} {phrase}.", "tokens": caption_tokens(who, phrase), "start": 0.0, "end": 0.0})
    return out
