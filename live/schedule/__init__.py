"""live.schedule: programs, recurrence, broadcasts and their state changes (transitions), calendars, the scheduler.

May import: core and the live base modules (live.models, live.events, live.access, live.stream);
never live.moderation or live.rooms.
"""
