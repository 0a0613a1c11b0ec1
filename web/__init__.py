"""The shell: app factory, settings wiring, error pages, OpenAPI, members' pages and API, CLI, demo data.

May import: core and every domain (it assembles them); nothing imports web.
"""
