"""live.schedule."""
