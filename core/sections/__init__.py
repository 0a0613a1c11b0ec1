"""課 (sections): groups of members sharing an interest; programs and study series belong to one."""

from core.sections.models import (
    ProposalStatus,
    ProposalSupport,
    Section,
    SectionKind,
    SectionMembership,
    SectionProposal,
    SectionStatus,
)

__all__ = [
    "ProposalStatus",
    "ProposalSupport",
    "Section",
    "SectionKind",
    "SectionMembership",
    "SectionProposal",
    "SectionStatus",
]
