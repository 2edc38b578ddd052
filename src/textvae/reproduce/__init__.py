"""Reproducing the papers' effects: runs trained for each claim, artifacts kept in git, one verdict per claim.

    from textvae.reproduce import reproduce
    summary = reproduce("bowman2016", scale="small")
"""

from textvae.reproduce.reproduce import papers_of, reproduce
from textvae.reproduce.verdicts import IMPLIED, NOT_MEASURABLE, NOT_REPRODUCED, REPRODUCED, Claim, judge

__all__ = ["IMPLIED", "NOT_MEASURABLE", "NOT_REPRODUCED", "REPRODUCED", "Claim", "judge", "papers_of", "reproduce"]
