"""Moderation: roles, room controls, sanctions, blocked words, held comments, reports, audit log."""
