"""The live domain: the broadcast schedule, the comment rooms and their moderation.

Lives here: read models and events shared by the subpackages (live.models, live.events,
live.errors, live.stream), the broadcast access policy (live.access) and the contract other
domains use (live.public). Subpackages, lowest first: live.schedule, live.moderation, live.rooms
(rooms may use moderation and schedule, moderation may use schedule, never the reverse).
May import: core. Never web, archive or faq. Others import live only through live.public.
"""
