"""live.moderation: room controls, sanctions, blocked words, held comments, reports, the audit log, its API and control page.

May import: core, the live base modules and live.schedule (the control page's state buttons use
its one state change). Never live.rooms: actions on comments live in live.rooms.curation.
"""
