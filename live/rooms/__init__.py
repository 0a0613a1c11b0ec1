"""live.rooms: the comment rooms (the hot path): protocol, hub and fan-out, socket, comment store, moderators' comment actions.

A room is built in layers (viewers < presence < room_moderation < fanout < stream < room; see
docs/architecture.md); hub.py holds the rooms of a process and is built in the app's lifespan.

May import: core, the live base modules, live.moderation (the gate, controls, sanctions) and
live.schedule. Nothing in live imports live.rooms except live.routes and live.public.
"""
