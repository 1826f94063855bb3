"""Serve the manager views with Panel on the shared asyncio loop, behind the business login.

A visitor signs in with a business user (the same argon2 check, lockout and
session as ``POST /api/v1/auth/login``); a browser that already holds the
``spms_session`` cookie from the REST login is let straight in. What each user
sees is filtered by their grants exactly like the REST API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import panel as pn
from twisted.application.service import Service
from twisted.internet.defer import Deferred

from tagdb.server.signals import preserve_signal_handlers

from ..errors import AccountLocked, AuthenticationRequired
from .data import building_options
from .i18n import LANGS, t
from .views import main_view, run

log = logging.getLogger(__name__)

ROUTE = "business"

# Tabulator ships its own JS bundle: load it into every served page
pn.extension("tabulator")


async def login(api, username: str, password: str) -> dict:
    """``api.auth.login`` from an asyncio-driven callback."""
    return await Deferred.fromCoroutine(api.auth.login(username, password)).asFuture(asyncio.get_running_loop())


def _first_property(s, crud, principal) -> int | None:
    try:
        items = crud.list(s, principal, "properties", {"per_page": "1"})["items"]
    except Exception:
        return None
    return items[0]["id"] if items else None


def page(api, default_lang: str = "zh") -> pn.Column:
    """One browser session: the login form, then the tabs for the signed-in user."""
    root = pn.Column(sizing_mode="stretch_width")
    state: dict[str, Any] = {"lang": default_lang, "principal": None}
    cookies = pn.state.cookies or {}
    token = cookies.get("spms_session")
    if token:
        state["principal"] = api.auth.authenticate_token(token)

    async def show_main():
        principal, lang = state["principal"], state["lang"]
        buildings = await run(api, building_options, api.crud, principal)
        property_id = await run(api, _first_property, api.crud, principal)
        langs = pn.widgets.RadioButtonGroup(options=list(LANGS), value=lang, width=120)
        out = pn.widgets.Button(label=t("logout", lang), width=90)

        def switch(event):
            state["lang"] = event.new
            asyncio.ensure_future(show_main())
        langs.param.watch(switch, "value")

        def sign_out(_):
            state["principal"] = None
            show_login()
        out.on_click(sign_out)
        header = pn.Row(pn.pane.Markdown(f"## {t('app.title', lang)} · {principal.user}"), pn.Spacer(), langs, out,
                        sizing_mode="stretch_width")
        root[:] = [header, main_view(api, principal, lang, buildings, property_id)]

    def show_login():
        lang = state["lang"]
        user = pn.widgets.TextInput(label=t("login.username", lang), width=260)
        password = pn.widgets.PasswordInput(label=t("login.password", lang), width=260)
        button = pn.widgets.Button(label=t("login.submit", lang), color="primary", width=260)
        message = pn.pane.Markdown("", styles={"color": "#b00"})

        async def submit(_):
            try:
                result = await login(api, user.value, password.value)
            except AccountLocked:
                message.object = t("login.locked", lang)
                return
            except AuthenticationRequired:
                message.object = t("login.failed", lang)
                password.value = ""
                return
            state["principal"] = api.auth.authenticate_token(result["token"])
            await show_main()
        button.on_click(submit)
        root[:] = [pn.pane.Markdown(f"## {t('app.title', lang)}\n### {t('login.title', lang)}"), user, password,
                   button, message]

    if state["principal"] is not None:
        pn.state.onload(show_main)
        root[:] = [pn.pane.Markdown(f"## {t('app.title', default_lang)}")]
    else:
        show_login()
    return root


class WebService(Service):
    """The manager views (child of the ``business`` service).

    When the site runs the HMI, its Panel server serves the views too (one
    Panel server per process, one port to open): the route is registered in
    ``ctx.provides["panel_routes"]`` at build time, before the HMI starts, and
    the ``web`` address and port are not used. Otherwise the views get a Panel
    server of their own on the configured address and port.
    """

    def __init__(self, api, web: dict, shared_with: Any = None) -> None:
        self.api = api
        self.address = web.get("address") or "127.0.0.1"
        self.port = int(web.get("port") or 5007)
        self.lang = web.get("language") or "zh"
        self.server = None
        self.shared_with = shared_with
        if shared_with is not None:
            api.ctx.provides.setdefault("panel_routes", {})[ROUTE] = self.page
        self.setName("business-web")

    def page(self) -> pn.Column:
        """One browser session of the manager views."""
        return page(self.api, self.lang)

    @property
    def url(self) -> str:
        """Where the views are served."""
        if self.shared_with is not None:
            return f"http://{self.shared_with.address}:{self.shared_with.port}/{ROUTE}"
        return f"http://{self.address}:{self.port}/{ROUTE}"

    def startService(self) -> None:
        """Start Panel on the running asyncio loop (Panel's SIGINT handler is undone)."""
        super().startService()
        if self.shared_with is None:
            origins = [f"{self.address}:{self.port}", f"localhost:{self.port}", f"127.0.0.1:{self.port}"]
            with preserve_signal_handlers():
                self.server = pn.serve({ROUTE: self.page}, address=self.address,
                                       port=self.port, websocket_origin=origins, show=False, start=False,
                                       title=t("app.title", self.lang))
            self.server.start()
        if self.api.ctx is not None:
            self.api.ctx.provides["business_web_url"] = self.url
        log.info("business web views at %s", self.url)

    def stopService(self) -> None:
        """Stop the Panel server (when it is our own)."""
        super().stopService()
        if self.server is not None:
            self.server.stop()
            self.server = None
