"""One browser session of the HMI: login, navigation, banner, the current page and its refresh tick.

Every session has its own :class:`hmi.live.LiveView` (subscriptions to the
tags of the page it shows, nothing else) and one periodic callback at the
configured refresh period that pushes the accumulated changes, redraws alarm
displays after an alarm transition, and moves the "updated" clock, so an
operator sees at a glance that the screen is alive.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

import panel as pn

from . import auth as hauth
from . import pages
from .alarms_view import AlarmSource, AlarmSummary, banner_html
from .faceplate import Faceplates
from .i18n import LANGUAGES, tr
from .live import Block, LiveView
from .model import SiteIndex
from .render import CSS
from .trends import TrendPage

log = logging.getLogger(__name__)

# The alarm summary's table needs its JS bundle in the page before it is first shown.
pn.extension("tabulator")


class HmiApp:
    """Shared by every session of one server: the site index and the components the HMI uses."""

    def __init__(self, ctx: Any, section: dict) -> None:
        self.ctx = ctx
        self.section = section
        self.refresh_ms = int(round(section["refresh"] * 1000))
        self.lang = section["language"]
        self.engine = ctx.provides.get("alarms")
        self.ix = SiteIndex(ctx.site, self.engine)
        self.alarms = AlarmSource(self.engine, ctx.site, ctx.provides.get("alarm_work_orders"))
        self.loops = dict(((ctx.site.section("control") or {}).get("loops") or {}))
        self.commands = None
        self.sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()

    @property
    def tags(self):
        """The live tag database (set by the tagdb component before the HMI starts)."""
        return self.ctx.tags

    @property
    def history(self):
        """The historian's query API, when the site has a historian."""
        return self.ctx.provides.get("history")

    def command_path(self):
        """The control component's command path, else a plain one over the tag database."""
        if self.commands is None:
            self.commands = self.ctx.provides.get("commands")
        if self.commands is None and self.ctx.tags is not None:
            from pathlib import Path

            from control.commands import CommandService
            self.commands = CommandService(self.ctx.tags, self.ctx.reactor, events=self.ctx.events,
                                           audit_path=Path(self.ctx.data_dir) / "audit" / "commands.jsonl")
        return self.commands

    async def asset_link(self, eq_id: str) -> dict | None:
        """The business asset linked to an equipment id, with a URL of the manager views."""
        api = self.ctx.provides.get("business")
        if api is None:
            return None
        from sqlalchemy import select

        from business.models import Asset

        def find(s):
            row = s.execute(select(Asset.id, Asset.code).where(Asset.equipment_id == eq_id)).first()
            return None if row is None else {"id": row[0], "code": row[1]}
        from .aio import run
        found = await run(api.db.run(find))
        if found is None:
            return None
        base = self.ctx.provides.get("business_web_url") or f"{self.ctx.provides.get('api_url', '')}/api/v1/assets"
        found["url"] = f"{base}?asset={found['id']}"
        return found

    def page(self) -> pn.viewable.Viewable:
        """The root of a new browser session."""
        session = Session(self)
        self.sessions.add(session)
        return session.root


class Session:
    """One signed-in (or signing-in) browser (see the module docstring)."""

    def __init__(self, app: HmiApp) -> None:
        self.app = app
        self.lang = app.lang
        self.principal = None
        self.live = LiveView(app.tags, self.lang)
        self.page: pages.Page | None = None
        self.summary: AlarmSummary | None = None
        self.alarms_dirty = False
        self.callback = None
        self.last_clock = ""
        self._unsub_events = None
        self.banner = Block([], lambda _v: banner_html(app.alarms, app.section["banner_size"], self.lang))
        self.content = pn.Column(sizing_mode="stretch_width")
        self.clock = pn.pane.HTML("", width=170)
        self.root = pn.Column(pn.pane.HTML(f"<style>{CSS}</style>", height=0, margin=0), sizing_mode="stretch_width",
                              styles={"background": "#dcdcdc", "min-height": "100vh"}, css_classes=["hmi"])
        args = pn.state.session_args or {}
        self.start_at = {k: (v[0].decode() if isinstance(v[0], bytes) else v[0]) for k, v in args.items() if v}
        principal = hauth.from_cookie(app.ctx.auth, pn.state.cookies)
        if principal is not None:
            self.principal = principal
            pn.state.onload(self._enter)
        else:
            self._show_login()
        pn.state.on_session_destroyed(lambda _ctx: self.close())

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in this session's language (see :mod:`hmi.i18n`)."""
        return tr(self.lang, key, **fields)

    # -- login -------------------------------------------------------------------------------
    def _show_login(self, message: str = "") -> None:
        user = pn.widgets.TextInput(label=self.t("user"), width=260)
        password = pn.widgets.PasswordInput(label=self.t("password"), width=260)
        button = pn.widgets.Button(label=self.t("login"), color="primary", width=260)
        note = pn.pane.HTML(f'<span class="abn" data-login="error">{escape(message)}</span>' if message else "")
        lang = pn.widgets.RadioButtonGroup(options=list(LANGUAGES), value=self.lang, width=100)

        async def submit(_event) -> None:
            try:
                self.principal, _token = await hauth.login(self.app.ctx.auth, user.value, password.value)
            except hauth.LoginFailed as exc:
                self._show_login(self.t(exc.key, **exc.fields) if exc.key else str(exc))
                return
            log.info("HMI: %s signed in", self.principal.user)
            await self._enter()

        def switch(event) -> None:
            self.lang = self.live.values.lang = event.new
            self._show_login()
        button.on_click(submit)
        lang.param.watch(switch, "value")
        title = self.app.section.get("title") or self.app.ctx.site.name
        self.root[1:] = [pn.pane.HTML(f"<h2>{escape(title)} · {self.t('title')}</h2>"), lang, user, password, button,
                         note]

    # -- the main frame ------------------------------------------------------------------------
    async def _enter(self) -> None:
        p = self.principal
        role = self.t("role.operator" if hauth.can_command(p) else "role.viewer")
        out = pn.widgets.Button(label=self.t("logout"), width=90)
        out.on_click(lambda _e: self.logout())
        nav = pn.Row(self._nav(self.t("overview"), "overview"), self._nav(self.t("alarms"), "alarms"),
                     self._nav(self.t("trends"), "trends"), pn.Spacer(),
                     pn.pane.HTML(f'<span data-user="{escape(p.user)}">{escape(p.user)} · {role}</span>'),
                     self.clock, out, sizing_mode="stretch_width")
        self.root[1:] = [nav, self.banner.pane, self.content]
        self.banner.refresh(self.live.values)
        from alarms.events import AlarmTransition
        self._unsub_events = self.app.ctx.events.subscribe(AlarmTransition, self._on_alarm)
        if self.callback is None:
            self.callback = pn.state.add_periodic_callback(self.tick, period=self.app.refresh_ms)
        start = dict(self.start_at)
        page = start.pop("page", "overview")
        try:
            self.go(page, **start)
        except Exception:   # a bad deep link falls back to the overview
            log.info("HMI: cannot open %s %s", page, start, exc_info=True)
            self.go("overview")

    def _nav(self, label: str, page: str) -> pn.widgets.Button:
        b = pn.widgets.Button(label=label, width=130)
        b.on_click(lambda _e: self.go(page))
        return b

    def _on_alarm(self, _transition) -> None:
        self.alarms_dirty = True

    def env(self) -> pages.Env:
        """What the pages need for this session."""
        fp = Faceplates(self.app.command_path(), self.principal, self.app.tags, self.app.loops, self.lang)
        return pages.Env(self.app.ix, self.app.tags, self.app.alarms, self.go, self.principal,
                         history=self.app.history, faceplates=fp,
                         asset_link=self.app.asset_link if "business" in self.app.ctx.provides else None,
                         clock=self.app.ctx.reactor, lang=self.lang)

    def go(self, page: str, **args: str) -> None:
        """Show another page: the old page's subscriptions end, the new page's begin."""
        env = self.env()
        self.live.values.lang = self.lang
        self.summary = None
        if page == "overview":
            built = pages.overview(env)
        elif page == "building":
            built = pages.building(env, args["id"])
        elif page == "class":
            built = pages.equipment_class(env, args["building"], args["cls"])
        elif page == "equipment":
            built = pages.equipment_detail(env, args["id"])
        elif page == "alarms":
            if not self.app.alarms.available:
                built = pages.Page(self.t("alarms"), pn.pane.HTML(f"<b>{self.t('page.no_alarms')}</b>"))
            else:
                self.summary = AlarmSummary(self.app.alarms, self.principal, lambda: self._on_alarm(None), self.lang)
                built = pages.Page(self.t("alarms"), self.summary.layout())
        elif page == "trends":
            initial = [t for t in (args.get("tags") or "").split(",") if t]
            trend = TrendPage(self.app.ctx.site, self.app.history, self.app.ctx.reactor, initial, self.lang)
            built = pages.Page(self.t("trends"), trend.layout(), [trend.block])
            trend.relive = lambda: self.live.show(built.blocks)
            if initial and self.app.history is not None:
                built.after.append(trend.show)
        else:
            raise KeyError(f"no HMI page {page!r}")
        self.page = built
        self.content[:] = [built.layout]
        self.live.show(built.blocks)
        for b in built.alarm_blocks:
            b.refresh(self.live.values)
        for fn in built.after:
            asyncio.ensure_future(self._after(built, fn))
        try:
            pn.state.location.search = "?" + urlencode({"page": page, **args}, safe="/,")
        except Exception:   # no location outside a browser session (tests build pages directly)
            pass

    async def _after(self, page: pages.Page, fn) -> None:
        try:
            await fn()
        except Exception:
            log.exception("HMI: after-show step failed")
        if self.page is page:
            for b in page.blocks:
                b.refresh(self.live.values)

    # -- the refresh tick -----------------------------------------------------------------------
    def tick(self) -> None:
        """Push accumulated changes, redraw alarm displays when alarms changed, move the clock.

        Everything changed in one tick goes to the browser as one message (``hold``).
        """
        doc = pn.state.curdoc
        if doc is None:
            self._tick()
            return
        with pn.io.hold(doc):
            self._tick()

    def _tick(self) -> None:
        self.live.tick()
        if self.alarms_dirty:
            self.alarms_dirty = False
            self.banner.refresh(self.live.values)
            if self.page is not None:
                for b in self.page.alarm_blocks:
                    b.refresh(self.live.values)
            if self.summary is not None:
                self.summary.refresh()
        now = datetime.fromtimestamp(self.app.ctx.reactor.seconds(), timezone.utc).strftime("%H:%M:%S")
        if now != self.last_clock:
            self.last_clock = now
            self.clock.object = f'<span data-clock="1">{self.t("updated")} {now} UTC</span>'

    def logout(self) -> None:
        """Back to the login form; subscriptions end."""
        self.close()
        self.principal = None
        self._show_login()

    def close(self) -> None:
        """End the session's subscriptions and callbacks."""
        self.live.close()
        if self._unsub_events is not None:
            self._unsub_events()
            self._unsub_events = None
        if self.callback is not None:
            try:
                self.callback.stop()
            except Exception:
                log.debug("stopping the refresh callback failed", exc_info=True)
            self.callback = None
