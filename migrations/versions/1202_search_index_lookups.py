"""search index: drop the kind index on documents and the doc_id index on postings

Revision ID: 1202
Revises: 1201
Create Date: 2026-12-02 05:30:00

The unique (kind, ref_id) key already serves every lookup by kind. The lone kind index only
misled PostgreSQL while the table grew faster than autovacuum's statistics: during a bulk
index build it picked that index for `kind = … AND ref_id IN (…)` and filtered every row of
the kind, so each batch cost more than the last (30,000 entries: half the build time).

search_postings loses its doc_id index: core.search.index deletes a document's postings
through the (term, doc_id) key, reading the terms from the document's own key streams, so no
second B-tree is updated for every posting written (about a fifth of the cost of a bulk COPY).
"""

from alembic import op


revision = '1202'
down_revision = '1201'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_documents_kind'))
    op.drop_index('ix_search_postings_doc', table_name='search_postings')


def downgrade() -> None:
    op.create_index('ix_search_postings_doc', 'search_postings', ['doc_id'], unique=False)
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_documents_kind'), ['kind'], unique=False)
