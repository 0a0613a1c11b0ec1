"""Notifications across domains: follows, in-app notifications, mail deliveries and settings."""
