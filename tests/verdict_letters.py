"""One letter per verdict, worst to best, for tests that write many verdict lists by hand."""

from speciarl.verdict import Verdict

W, A, G, L, S, M = (
    Verdict.WRONG,
    Verdict.ABSTAIN,
    Verdict.GENERIC,
    Verdict.LESS_SPECIFIC,
    Verdict.SPECIFIC,
    Verdict.MORE_SPECIFIC,
)
