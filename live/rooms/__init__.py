"""live.rooms: the comment rooms (the hot path): protocol, hub and fan-out, socket, comment store, moderators' comment actions.

May import: core, the live base modules, live.moderation (the gate, controls, sanctions) and
live.schedule. Nothing in live imports live.rooms except live.routes and live.public.
"""
