"""members' profiles and change log, e-mail changes, 課 membership, proposals, site settings

Revision ID: 1001
Revises: 0001
Create Date: 2026-12-01 20:40:00
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

import core.db

revision = "1001"
down_revision = "0001"
branch_labels = ("sections",)
depends_on = None


def _key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())[:60]


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reading", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("interests", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status",
                _enum("active", "archived", "merged", name="sectionstatus"),
                nullable=False,
                server_default="active",
            )
        )
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sections_merged_into_id_sections"), "sections", ["merged_into_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_sections_status"), ["status"], unique=False)

    conn = op.get_bind()
    sections = sa.table(
        "sections",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("leader_id", sa.Integer),
    )
    existing = conn.execute(sa.select(sections.c.id, sections.c.name, sections.c.leader_id)).all()
    for row in existing:
        conn.execute(sections.update().where(sections.c.id == row.id).values(name_key=_key(row.name) or str(row.id)))
    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=60), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_sections_name_key"), ["name_key"])

    op.create_table(
        "section_members",
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("deputy", sa.Boolean(), nullable=False),
        sa.Column("joined_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_section_members_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"], ["sections.id"], name=op.f("fk_section_members_section_id_sections"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("section_id", "member_id", name=op.f("pk_section_members")),
    )
    with op.batch_alter_table("section_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_section_members_member_id"), ["member_id"], unique=False)
    # Every existing 課長 is a member of their 課.
    members_t = sa.table(
        "section_members",
        sa.column("section_id", sa.Integer),
        sa.column("member_id", sa.Integer),
        sa.column("deputy", sa.Boolean),
        sa.column("joined_at", core.db.UTCDateTime(timezone=True)),
    )
    rows = [
        {"section_id": r.id, "member_id": r.leader_id, "deputy": False, "joined_at": core.db.utcnow()}
        for r in existing
        if r.leader_id is not None
    ]
    if rows:
        op.bulk_insert(members_t, rows)

    op.create_table(
        "section_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("open_key", sa.String(length=60), nullable=True),
        sa.Column("kind", _enum("work", "skill", "hobby", name="sectionkind"), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("founder_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("open", "founded", "withdrawn", name="proposalstatus"), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("founded_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["founder_id"], ["members.id"], name=op.f("fk_section_proposals_founder_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"], ["sections.id"], name=op.f("fk_section_proposals_section_id_sections"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section_proposals")),
        sa.UniqueConstraint("open_key", name=op.f("uq_section_proposals_open_key")),
    )
    with op.batch_alter_table("section_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_section_proposals_founder_id"), ["founder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_section_proposals_status"), ["status"], unique=False)

    op.create_table(
        "section_proposal_supports",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_section_proposal_supports_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["section_proposals.id"],
            name=op.f("fk_section_proposal_supports_proposal_id_section_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proposal_id", "member_id", name=op.f("pk_section_proposal_supports")),
    )

    op.create_table(
        "member_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=30), nullable=False),
        sa.Column("old_value", sa.String(length=200), nullable=False),
        sa.Column("new_value", sa.String(length=200), nullable=False),
        sa.Column("changed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["members.id"], name=op.f("fk_member_changes_changed_by_id_members"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_changes_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_changes")),
    )
    with op.batch_alter_table("member_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_changes_member_id"), ["member_id"], unique=False)

    op.create_table(
        "email_changes",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_email_changes_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_changes")),
    )
    with op.batch_alter_table("email_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_changes_member_id"), ["member_id"], unique=False)

    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_settings")),
    )


def downgrade() -> None:
    op.drop_table("site_settings")
    op.drop_table("email_changes")
    op.drop_table("member_changes")
    op.drop_table("section_proposal_supports")
    op.drop_table("section_proposals")
    op.drop_table("section_members")
    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sections_name_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_sections_status"))
        batch_op.drop_constraint(batch_op.f("fk_sections_merged_into_id_sections"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("status")
        batch_op.drop_column("name_key")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("interests")
        batch_op.drop_column("reading")
