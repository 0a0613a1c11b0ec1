"""The application factory: assembles settings, storage, middleware and every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncSession

from archive import routes as archive_routes
from core import heap
from core.access import provide_me
from core.db import Database
from core.events import EventBus, create_bus
from core.logs import configure_logging
from core.notify import inbox as notify_inbox
from core.notify import live as notify_live
from core.notify import worker as mail_worker
from core.settings import Settings, get_settings
from core.sockets import SocketRegistry, registry_for
from faq import routes as faq_routes
from faq.lifecycle import BroadcastListener
from faq.notices import session_reminders
from live import routes as live_routes
from live.rooms.hub import serve_rooms
from live.schedule.scheduler import start_embedded as start_embedded_scheduler
from live.schedule.scheduler import stop_embedded as stop_embedded_scheduler
from web import (
    accounts,
    admin,
    api,
    directory,
    follows,
    health,
    notify_api,
    notify_pages,
    pages,
    profile,
    search,
    sections,
    sections_api,
)
from web.errors import EXCEPTION_HANDLERS
from web.middleware import AuthMiddleware, ChonaiCSRFMiddleware, RequestContextMiddleware, csrf_config
from web.openapi import openapi_config
from web.section_content import register_owner_columns
from web.templating import template_config

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 1024 * 1024
#: Durable steps the scheduler's leader runs every tick (live's own program reminders are built in).
SCHEDULER_STEPS = (session_reminders,)  # forms and JSON are small; uploads are links, not files


def _route_handlers() -> list[Any]:
    return [
        pages.home,
        pages.favicon,
        health.healthz,
        health.readyz,
        accounts.AccountController,
        accounts.ProfileController,
        admin.AdminMembersController,
        admin.AdminSettingsController,
        api.MeController,
        profile.ProfileEditController,
        profile.EmailConfirmController,
        profile.ProfileApiController,
        sections.SectionPagesController,
        sections_api.SectionsApiController,
        directory.DirectoryController,
        directory.DirectoryApiController,
        api.MembersAdminController,
        *follows.route_handlers,
        *notify_api.route_handlers,
        *notify_pages.route_handlers,
        *live_routes.route_handlers,
        *archive_routes.route_handlers,
        *faq_routes.route_handlers,
        *search.route_handlers,
        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
    ]


def _dependencies(db: Database, settings: Settings, bus: EventBus) -> dict[str, Provide]:
    async def provide_db() -> AsyncIterator[AsyncSession]:
        async with db.session() as session:
            yield session

    def provide_settings() -> Settings:
        return settings

    def provide_bus() -> EventBus:
        return bus

    return {
        "db": Provide(provide_db),
        "settings": Provide(provide_settings, sync_to_thread=False),
        "bus": Provide(provide_bus, sync_to_thread=False),
        "me": Provide(provide_me, sync_to_thread=False),
    }


def _lifespan(
    db: Database, bus: EventBus, bells: notify_live.BellHub, settings: Settings
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await bus.start()
        # Open sockets close when their session, token or account ends (core.sockets).
        await registry_for(app).start()
        # Study sessions end (and get their FAQ draft) when their broadcast ends.
        faq_listener = BroadcastListener(db, bus)
        await faq_listener.start()
        # Bells: notifications committed by any process ring here (one query per event, not per bell).
        notify_live.use_bus(bus)
        await bells.start()
        # CHONAI_SCHEDULER=embedded (what `chonai run` sets) runs the broadcast scheduler in this process,
        # with the reminder steps of every domain, and the mail worker beside it.
        scheduler = await start_embedded_scheduler(
            db, bus, settings.redis_url, steps=SCHEDULER_STEPS, prefix=settings.redis_prefix
        )
        mails = await mail_worker.start(db, settings) if scheduler is not None else None
        try:
            # The room hub of this process (of this event loop: test clients run one each).
            async with serve_rooms(app, db, bus):
                heap.settle()  # what start-up allocated lives as long as the process (core/heap.py)
                yield
        finally:
            await mail_worker.stop(mails)
            await stop_embedded_scheduler(scheduler)
            await bells.stop()
            notify_live.use_bus(None)
            await faq_listener.stop()
            await registry_for(app).stop()
            await bus.close()
            await db.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    """The one place the app is assembled: storage, the bus, routes, dependencies, middleware, lifespan."""
    settings = settings or get_settings()
    heap.tune()  # fewer collector pauses under load (core/heap.py)
    register_owner_columns()  # merging 課 moves programs and study series too
    configure_logging(settings.log_level, settings.log_json)
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    bus = create_bus(settings.redis_url, settings.redis_prefix)

    async def count_unread(member_ids: list[int]) -> dict[int, int]:
        async with db.session() as session:
            return await notify_inbox.unread_counts(session, member_ids)

    bells = notify_live.BellHub(bus, count_unread)
    app = Litestar(
        route_handlers=_route_handlers(),
        dependencies=_dependencies(db, settings, bus),
        middleware=[
            DefineMiddleware(RequestContextMiddleware, secure=settings.secure_cookies),
            DefineMiddleware(AuthMiddleware, db=db),
            DefineMiddleware(ChonaiCSRFMiddleware, config=csrf_config(settings.secret_key, settings.secure_cookies)),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=template_config(),
        openapi_config=openapi_config(),
        request_max_body_size=MAX_BODY,
        lifespan=[_lifespan(db, bus, bells, settings)],
        logging_config=None,  # ours (core.logs) carries request ids and optional JSON
        debug=False,
    )
    app.state.db = db
    app.state.bus = bus
    app.state.sockets = SocketRegistry(db, bus)
    app.state.bells = bells
    app.state.settings = settings
    return app
