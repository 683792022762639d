"""Canonical class names of the real datasets, index = 0-based label (official wording, see reference/splits.md)."""

NTU120_CLASSES: tuple[str, ...] = (  # label i = NTU action A(i+1); the first 60 are NTU RGB+D 60
    "drink water",  # A001
    "eat meal/snack",  # A002
    "brushing teeth",  # A003
    "brushing hair",  # A004
    "drop",  # A005
    "pickup",  # A006
    "throw",  # A007
    "sitting down",  # A008
    "standing up (from sitting position)",  # A009
    "clapping",  # A010
    "reading",  # A011
    "writing",  # A012
    "tear up paper",  # A013
    "wear jacket",  # A014
    "take off jacket",  # A015
    "wear a shoe",  # A016
    "take off a shoe",  # A017
    "wear on glasses",  # A018
    "take off glasses",  # A019
    "put on a hat/cap",  # A020
    "take off a hat/cap",  # A021
    "cheer up",  # A022
    "hand waving",  # A023
    "kicking something",  # A024
    "reach into pocket",  # A025
    "hopping (one foot jumping)",  # A026
    "jump up",  # A027
    "make a phone call/answer phone",  # A028
    "playing with phone/tablet",  # A029
    "typing on a keyboard",  # A030
    "pointing to something with finger",  # A031
    "taking a selfie",  # A032
    "check time (from watch)",  # A033
    "rub two hands together",  # A034
    "nod head/bow",  # A035
    "shake head",  # A036
    "wipe face",  # A037
    "salute",  # A038
    "put the palms together",  # A039
    "cross hands in front (say stop)",  # A040
    "sneeze/cough",  # A041
    "staggering",  # A042
    "falling",  # A043
    "touch head (headache)",  # A044
    "touch chest (stomachache/heart pain)",  # A045
    "touch back (backache)",  # A046
    "touch neck (neckache)",  # A047
    "nausea or vomiting condition",  # A048
    "use a fan (with hand or paper)/feeling warm",  # A049
    "punching/slapping other person",  # A050
    "kicking other person",  # A051
    "pushing other person",  # A052
    "pat on back of other person",  # A053
    "point finger at the other person",  # A054
    "hugging other person",  # A055
    "giving something to other person",  # A056
    "touch other person's pocket",  # A057
    "handshaking",  # A058
    "walking towards each other",  # A059
    "walking apart from each other",  # A060
    "put on headphone",  # A061
    "take off headphone",  # A062
    "shoot at the basket",  # A063
    "bounce ball",  # A064
    "tennis bat swing",  # A065
    "juggling table tennis balls",  # A066
    "hush (quite)",  # A067
    "flick hair",  # A068
    "thumb up",  # A069
    "thumb down",  # A070
    "make ok sign",  # A071
    "make victory sign",  # A072
    "staple book",  # A073
    "counting money",  # A074
    "cutting nails",  # A075
    "cutting paper (using scissors)",  # A076
    "snapping fingers",  # A077
    "open bottle",  # A078
    "sniff (smell)",  # A079
    "squat down",  # A080
    "toss a coin",  # A081
    "fold paper",  # A082
    "ball up paper",  # A083
    "play magic cube",  # A084
    "apply cream on face",  # A085
    "apply cream on hand back",  # A086
    "put on bag",  # A087
    "take off bag",  # A088
    "put something into a bag",  # A089
    "take something out of a bag",  # A090
    "open a box",  # A091
    "move heavy objects",  # A092
    "shake fist",  # A093
    "throw up cap/hat",  # A094
    "hands up (both hands)",  # A095
    "cross arms",  # A096
    "arm circles",  # A097
    "arm swings",  # A098
    "running on the spot",  # A099
    "butt kicks (kick backward)",  # A100
    "cross toe touch",  # A101
    "side kick",  # A102
    "yawn",  # A103
    "stretch oneself",  # A104
    "blow nose",  # A105
    "hit other person with something",  # A106
    "wield knife towards other person",  # A107
    "knock over other person (hit with body)",  # A108
    "grab other person’s stuff",  # A109
    "shoot at other person with a gun",  # A110
    "step on foot",  # A111
    "high-five",  # A112
    "cheers and drink",  # A113
    "carry something with other person",  # A114
    "take a photo of other person",  # A115
    "follow other person",  # A116
    "whisper in other person’s ear",  # A117
    "exchange things with other person",  # A118
    "support somebody with hand",  # A119
    "finger-guessing game (playing rock-paper-scissors)",  # A120
)

NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]

# NW-UCLA: the json `label` is 1-based over these 10 actions; file codes a01..a12 skip a07 and a10.
NWUCLA_CLASSES: tuple[str, ...] = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
)

PKU51_CLASSES: tuple[str, ...] = (  # label i = PKU-MMD action id i+1 (label files are 1-based)
    "bow",  # id 1
    "brushing hair",  # id 2
    "brushing teeth",  # id 3
    "check time (from watch)",  # id 4
    "cheer up",  # id 5
    "clapping",  # id 6
    "cross hands in front (say stop)",  # id 7
    "drink water",  # id 8
    "drop",  # id 9
    "eat meal/snack",  # id 10
    "falling",  # id 11
    "giving something to other person",  # id 12
    "hand waving",  # id 13
    "handshaking",  # id 14
    "hopping (one foot jumping)",  # id 15
    "hugging other person",  # id 16
    "jump up",  # id 17
    "kicking other person",  # id 18
    "kicking something",  # id 19
    "make a phone call/answer phone",  # id 20
    "pat on back of other person",  # id 21
    "pickup",  # id 22
    "playing with phone/tablet",  # id 23
    "point finger at the other person",  # id 24
    "pointing to something with finger",  # id 25
    "punching/slapping other person",  # id 26
    "pushing other person",  # id 27
    "put on a hat/cap",  # id 28
    "put something inside pocket",  # id 29
    "reading",  # id 30
    "rub two hands together",  # id 31
    "salute",  # id 32
    "sitting down",  # id 33
    "standing up",  # id 34
    "take off a hat/cap",  # id 35
    "take off glasses",  # id 36
    "take off jacket",  # id 37
    "take out something from pocket",  # id 38
    "taking a selfie",  # id 39
    "tear up paper",  # id 40
    "throw",  # id 41
    "touch back (backache)",  # id 42
    "touch chest (stomachache/heart pain)",  # id 43
    "touch head (headache)",  # id 44
    "touch neck (neckache)",  # id 45
    "typing on a keyboard",  # id 46
    "use a fan (with hand or paper)/feeling warm",  # id 47
    "wear jacket",  # id 48
    "wear on glasses",  # id 49
    "wipe face",  # id 50
    "writing",  # id 51
)

# Open-vocabulary class splits: split name "s<seen>u<unseen>" -> unseen classes as 0-based labels.
# Sources and cross-checks are in reference/splits.md (SynSE for 55/5, 48/12, 110/10, 96/24; PURLS for 40/20, 30/30).
NTU60_UNSEEN_SPLITS: dict[str, tuple[int, ...]] = {
    "s55u5": (10, 11, 19, 26, 56),
    "s48u12": (3, 5, 9, 12, 15, 40, 42, 47, 51, 56, 58, 59),
    "s40u20": (0, 12, 13, 14, 15, 16, 17, 22, 23, 26, 29, 30, 31, 35, 36, 42, 43, 48, 56, 57),
    "s30u30": (0, 1, 2, 6, 7, 8, 10, 12, 13, 15, 16, 18, 20, 21, 25, 26, 27, 31, 32, 33,
               39, 42, 45, 47, 48, 51, 52, 55, 58, 59),
}
NTU120_UNSEEN_SPLITS: dict[str, tuple[int, ...]] = {
    "s110u10": (4, 13, 37, 43, 49, 65, 88, 95, 99, 106),
    "s96u24": (5, 9, 11, 16, 18, 20, 22, 29, 35, 39, 45, 49, 59, 68, 70, 81, 84, 87, 93, 94, 104, 113, 114, 119),
}
NWUCLA_UNSEEN_SPLITS: dict[str, tuple[int, ...]] = {  # PURLS label_splits/nw-ucla
    "s8u2": (1, 4),
    "s5u5": (1, 3, 4, 6, 8),
}
PKU51_UNSEEN_SPLITS: dict[str, tuple[int, ...]] = {  # STAR / SMIE fixed splits
    "s46u5": (1, 9, 20, 34, 50),
    "s39u12": (3, 7, 11, 15, 19, 21, 25, 31, 33, 36, 43, 48),
}
