"""How far a judge agrees with reference verdicts: the figures ``speciarl judge-eval`` reports.

Pure arithmetic, no judge runs here. Every figure derives from one confusion matrix whose rows
are the reference verdicts (a person's labels, or a reference judge's verdicts) and whose columns
are the judge's verdicts plus an ``undecided`` column, so the figures of several datasets pool by
adding their matrices.

Kappas are computed on the decided pairs only (an undecided pair has no verdict to compare), with
exact integer sums; a kappa whose chance agreement is already perfect (both sides gave one and the
same verdict throughout, or nothing was decided) is undefined and reported as ``None``. The
weighted kappa reads the six verdicts as an ordinal scale, 0 (wrong) to 5 (more specific), with
quadratic disagreement weights: confusing ``specific`` with ``less specific`` costs 1, with
``generic`` 4, with ``wrong`` 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from speciarl.verdict import VERDICTS, Verdict

UNDECIDED_COLUMN = "undecided"
ROWS: tuple[str, ...] = tuple(verdict.value for verdict in VERDICTS)
"""Row labels of a confusion matrix: the reference verdicts, worst first."""
COLUMNS: tuple[str, ...] = (*ROWS, UNDECIDED_COLUMN)
"""Column labels: the judge's verdicts, worst first, then the pairs it left undecided."""

Matrix = tuple[tuple[int, ...], ...]


def confusion_matrix(labels: Sequence[Verdict], judged: Sequence[Verdict | None]) -> Matrix:
    """Counts of (reference verdict, judge's verdict) pairs: 6 rows by 7 columns (see COLUMNS)."""
    if len(labels) != len(judged):
        raise ValueError(f"{len(labels)} reference verdicts but {len(judged)} judged verdicts")
    counts = [[0] * len(COLUMNS) for _ in ROWS]
    undecided = len(COLUMNS) - 1
    for label, verdict in zip(labels, judged, strict=True):
        counts[label.rank][undecided if verdict is None else verdict.rank] += 1
    return tuple(tuple(row) for row in counts)


def add_matrices(matrices: Sequence[Matrix]) -> Matrix:
    """The cell-wise sum: the matrix of all the pairs of several matrices."""
    total = [[0] * len(COLUMNS) for _ in ROWS]
    for matrix in matrices:
        _check_shape(matrix)
        for row, counts in enumerate(matrix):
            for column, count in enumerate(counts):
                total[row][column] += count
    return tuple(tuple(row) for row in total)


def cohen_kappa(matrix: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa of a square matrix of counts (rows one rater, columns the other).

    kappa = (p_o - p_e) / (1 - p_e), p_o the share on the diagonal, p_e the sum over classes of
    row share times column share. ``None`` when undefined (no counts, or p_e = 1).
    """
    size = _square(matrix)
    return _kappa(matrix, [[int(i != j) for j in range(size)] for i in range(size)])


def weighted_kappa(matrix: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa with quadratic weights, classes read as the ordinal scale 0..K-1.

    kappa_w = 1 - sum(w_ij * O_ij) / sum(w_ij * E_ij) with w_ij = (i - j)^2 (the usual division by
    (K-1)^2 cancels), O the observed shares and E_ij = row share i times column share j.
    ``None`` when undefined (no counts, or no expected disagreement).
    """
    size = _square(matrix)
    return _kappa(matrix, [[(i - j) ** 2 for j in range(size)] for i in range(size)])


def _kappa(matrix: Sequence[Sequence[int]], weights: list[list[int]]) -> float | None:
    """1 - N * sum(w * O) / sum(w * row * column), in integers: counts, not shares."""
    size = len(weights)
    total = sum(sum(row) for row in matrix)
    rows = [sum(matrix[i]) for i in range(size)]
    columns = [sum(matrix[i][j] for i in range(size)) for j in range(size)]
    observed = sum(weights[i][j] * matrix[i][j] for i in range(size) for j in range(size))
    expected = sum(weights[i][j] * rows[i] * columns[j] for i in range(size) for j in range(size))
    if total == 0 or expected == 0:
        return None
    return 1.0 - total * observed / expected


@dataclass(frozen=True, slots=True)
class VerdictFigures:
    """How one verdict fared: precision over what the judge gave, recall over what it should."""

    labelled: int
    """Pairs whose reference verdict is this one (decided by the judge or not)."""
    judged: int
    """Pairs the judge gave this verdict."""
    agreed: int
    """Pairs with this verdict on both sides."""

    @property
    def precision(self) -> float | None:
        """agreed / judged; ``None`` when the judge never gave this verdict."""
        return _share(self.agreed, self.judged)

    @property
    def recall(self) -> float | None:
        """agreed / labelled, undecided pairs counting as missed; ``None`` with no such label."""
        return _share(self.agreed, self.labelled)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Every figure of one judge against one set of reference verdicts."""

    confusion: Matrix

    def __post_init__(self) -> None:
        _check_shape(self.confusion)

    @property
    def pairs(self) -> int:
        return sum(map(sum, self.confusion))

    @property
    def decided(self) -> int:
        return sum(sum(row[:-1]) for row in self.confusion)

    @property
    def agreed(self) -> int:
        return sum(self.confusion[i][i] for i in range(len(ROWS)))

    @property
    def coverage(self) -> float | None:
        """Share of pairs the judge decided."""
        return _share(self.decided, self.pairs)

    @property
    def accuracy_decided(self) -> float | None:
        """Share right among the decided pairs."""
        return _share(self.agreed, self.decided)

    @property
    def accuracy(self) -> float | None:
        """Share right among all pairs; an undecided pair is not right."""
        return _share(self.agreed, self.pairs)

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa on the decided pairs."""
        return cohen_kappa(self._decided_square())

    @property
    def weighted_kappa(self) -> float | None:
        """Quadratic-weighted kappa on the decided pairs, verdicts as the scale 0..5."""
        return weighted_kappa(self._decided_square())

    def verdict(self, verdict: Verdict) -> VerdictFigures:
        row = verdict.rank
        return VerdictFigures(
            labelled=sum(self.confusion[row]),
            judged=sum(counts[row] for counts in self.confusion),
            agreed=self.confusion[row][row],
        )

    def _decided_square(self) -> list[list[int]]:
        return [list(row[:-1]) for row in self.confusion]

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON data; ``None`` (null) where a figure is undefined."""
        return {
            "pairs": self.pairs,
            "decided": self.decided,
            "agreed": self.agreed,
            "coverage": self.coverage,
            "accuracy_decided": self.accuracy_decided,
            "accuracy": self.accuracy,
            "kappa": self.kappa,
            "weighted_kappa": self.weighted_kappa,
            "verdicts": {
                verdict.value: {
                    "labelled": figures.labelled,
                    "judged": figures.judged,
                    "agreed": figures.agreed,
                    "precision": figures.precision,
                    "recall": figures.recall,
                }
                for verdict in VERDICTS
                for figures in (self.verdict(verdict),)
            },
            "confusion": {
                "rows": list(ROWS),
                "columns": list(COLUMNS),
                "counts": [list(row) for row in self.confusion],
            },
        }


def agreement(labels: Sequence[Verdict], judged: Sequence[Verdict | None]) -> Agreement:
    """The figures of ``judged`` (``None`` = undecided) against the reference ``labels``."""
    return Agreement(confusion_matrix(labels, judged))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _square(matrix: Sequence[Sequence[int]]) -> int:
    size = len(matrix)
    if any(len(row) != size for row in matrix):
        raise ValueError("a kappa needs a square matrix of counts")
    return size


def _check_shape(matrix: Matrix) -> None:
    if len(matrix) != len(ROWS) or any(len(row) != len(COLUMNS) for row in matrix):
        raise ValueError(
            f"a confusion matrix has {len(ROWS)} rows and {len(COLUMNS)} columns "
            f"({', '.join(COLUMNS)})"
        )
