"""The faq domain: study sessions (the Q&A board), FAQ documents and their versions, exports, Japanese search.

May import: core and live.public (broadcasts a session is attached to, their state events).
Never web, archive or other live modules.
"""
