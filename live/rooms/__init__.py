"""live.rooms."""
