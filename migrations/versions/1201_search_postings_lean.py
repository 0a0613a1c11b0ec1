"""search postings lean: (term, doc_id) only, clustered on SQLite; the old FAQ gram index dropped

Revision ID: 1201
Revises: 0801, 1101
Create Date: 2026-12-02 01:10:00

search_postings keeps one row per (term, doc_id) and nothing else: ranking counts occurrences
in the documents' key streams, so the per-posting term frequencies were never read. On SQLite the
table is WITHOUT ROWID (the primary key is the table: one B-tree less per posting written, and
posting lists are read straight from it). The foreign key to search_documents goes: core.search
deletes a document's postings itself, and a per-row check costs every bulk insert. The
faq_search_grams table (the FAQ search before core.search) has not been written since 0801.
"""

from alembic import op
import sqlalchemy as sa


revision = '1201'
down_revision = ('0801', '1101')
branch_labels = None
depends_on = None


def _rebuild_postings(columns: list[sa.Column], **table_kw: object) -> None:
    op.create_table('search_postings_new', *columns, **table_kw)
    op.execute('INSERT INTO search_postings_new (term, doc_id) SELECT term, doc_id FROM search_postings')
    op.drop_index('ix_search_postings_doc', table_name='search_postings')
    op.drop_table('search_postings')
    op.rename_table('search_postings_new', 'search_postings')
    op.create_index('ix_search_postings_doc', 'search_postings', ['doc_id'], unique=False)


def upgrade() -> None:
    op.drop_table('faq_search_grams')
    _rebuild_postings(
        [
            sa.Column('term', sa.String(length=64), nullable=False),
            sa.Column('doc_id', sa.Integer(), autoincrement=False, nullable=False),
            sa.PrimaryKeyConstraint('term', 'doc_id', name='pk_search_postings_new'),
        ],
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_postings RENAME CONSTRAINT pk_search_postings_new TO pk_search_postings')


def downgrade() -> None:
    _rebuild_postings(
        [
            sa.Column('term', sa.String(length=64), nullable=False),
            sa.Column('doc_id', sa.Integer(), nullable=False),
            sa.Column('title_tf', sa.SmallInteger(), nullable=False, server_default='0'),
            sa.Column('body_tf', sa.SmallInteger(), nullable=False, server_default='0'),
            sa.ForeignKeyConstraint(
                ['doc_id'], ['search_documents.id'], name='fk_search_postings_doc_id_search_documents', ondelete='CASCADE'
            ),
            sa.PrimaryKeyConstraint('term', 'doc_id', name='pk_search_postings_new'),
        ],
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_postings RENAME CONSTRAINT pk_search_postings_new TO pk_search_postings')
    op.create_table('faq_search_grams',
    sa.Column('gram', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('gram', 'entry_id', name=op.f('pk_faq_search_grams')),
    sqlite_with_rowid=False
    )
