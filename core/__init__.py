"""What every domain needs, in one place that imports no domain (and never web).

Lives here: settings, the database (core.db), members and roles (core.members), request access
guards (core.access), the one refusal type (core.errors), the event bus and publish-after-commit
(core.events), spreadsheet-safe cells, text hygiene, time formatting, logging, mail, migrations.
May import: the standard library and third-party packages only (contract "core-imports-no-domain").
"""
