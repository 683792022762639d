"""Evaluation protocols: which samples train and which test, by subject, camera/view, setup or official partition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NTU60_TRAIN_SUBJECTS = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
    93, 94, 95, 97, 98, 100, 103,
})
UNKNOWN = -1  # index value of a field the dataset does not record


@dataclass(frozen=True)
class Protocol:
    """A train/test rule over one index column.

    A sample trains when its value is in train_values (or, with train_parity set, when value % 2 == train_parity).
    It tests when its value is in test_values, or, when test_values is None, when it is known and does not train.
    """

    name: str
    column: str
    description: str
    train_values: frozenset = frozenset()
    train_parity: int | None = None
    test_values: frozenset | None = None

    def masks(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) boolean masks [N] over the column's values [N]."""
        values = np.asarray(values)
        known = values != (UNKNOWN if values.dtype.kind in "iu" else "")
        if self.train_parity is not None:
            train = known & (values.astype(np.int64) % 2 == self.train_parity)
        else:
            train = known & np.isin(values, list(self.train_values))
        if self.test_values is None:
            test = known & ~train
        else:
            test = known & np.isin(values, list(self.test_values))
        return train, test

    def as_dict(self) -> dict:
        """JSON description written into every split file."""
        return {"name": self.name, "column": self.column, "description": self.description}


NTU60_XSUB = Protocol("xsub", "subject", "NTU-60 cross-subject: the 20 official training subjects train, the rest test",
                      train_values=NTU60_TRAIN_SUBJECTS)
NTU120_XSUB = Protocol("xsub", "subject",
                       "NTU-120 cross-subject: the 53 official training subjects train, the rest test",
                       train_values=NTU120_TRAIN_SUBJECTS)
NTU_XVIEW = Protocol("xview", "camera", "cross-view: cameras 2 and 3 train, camera 1 tests",
                     train_values=frozenset({2, 3}), test_values=frozenset({1}))
NTU120_XSET = Protocol("xset", "setup", "NTU-120 cross-setup: even setup ids train, odd setup ids test", train_parity=0)
NWUCLA_XVIEW = Protocol("xview", "camera", "NW-UCLA cross-view: views 1 and 2 train, view 3 tests",
                        train_values=frozenset({1, 2}), test_values=frozenset({3}))
PKU_XVIEW = Protocol("xview", "camera", "PKU-MMD cross-view: middle (2) and right (3) views train, left (1) tests",
                     train_values=frozenset({2, 3}), test_values=frozenset({1}))
SYNTH_XSUB = Protocol("xsub", "subject", "synthetic cross-subject: odd subject ids train, even subject ids test",
                      train_parity=1)
OFFICIAL = Protocol("official", "partition", "the dataset's own partition: 'train' trains, 'val' and 'test' test",
                    train_values=frozenset({"train"}), test_values=frozenset({"val", "test"}))
HUMANML3D_OFFICIAL = Protocol("official", "partition",
                              "HumanML3D's own partition: train.txt trains, test.txt tests (val.txt is for model "
                              "selection, as its captioning benchmark keeps it)",
                              train_values=frozenset({"train"}), test_values=frozenset({"test"}))
