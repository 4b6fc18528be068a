"""Optional login through Streamlit's OIDC support (``st.login``), and the deployment guard.

Off unless a lab configures it: when ``.streamlit/secrets.toml`` has an ``[auth]`` section
(``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``; see the README), every page asks for a login first. An optional
``allowed_emails`` list in ``[prm_viewer]`` restricts who may use the app once logged in.

The guard: an app bound to an address other than loopback without a login refuses to serve
(every page shows why) unless the setting ``allow_anonymous`` is true; with a login, registering
checkpoints (and so enabling ``trust_remote_code``) is for the e-mails in the setting ``admins``;
served anonymously to a network, it is off in the app (the CLI on the server still does it).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from prm_viewer import settings
from prm_viewer.ui.text import plain

LOG = logging.getLogger("prm_viewer.ui")


def _secrets_section(name: str) -> Any:
    try:
        return st.secrets[name] if name in st.secrets else None
    except StreamlitSecretNotFoundError:
        return None  # no secrets file at all: login is not configured


def login_configured() -> bool:
    """True when secrets carry an ``[auth]`` section."""
    return _secrets_section("auth") is not None


def require_login() -> None:
    """Stop the script with a login button until the user is logged in (when configured)."""
    if not login_configured():
        return
    if not st.user.is_logged_in:
        st.title("prm_viewer")
        st.write("This lab's prm_viewer asks you to log in.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    allowed = (_secrets_section("prm_viewer") or {}).get("allowed_emails")
    if allowed and st.user.get("email") not in set(allowed):
        st.error(f"{st.user.get('email')} may not use this app; ask its administrator.")
        st.button("Log out", on_click=st.logout)
        st.stop()
    st.sidebar.caption(f"Logged in as {st.user.get('email') or st.user.get('name') or 'user'}")
    st.sidebar.button("Log out", on_click=st.logout)


def is_loopback(address: str | None) -> bool:
    """Whether a ``server.address`` reaches this machine only (empty = every interface: no)."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a network address


def deployment_problem(address: str | None, login: bool, allow_anonymous: bool) -> str | None:
    """Why the app must not serve as configured, or None. Pure (the settings are passed in)."""
    if is_loopback(address) or login or allow_anonymous:
        return None
    where = address or "every network interface"
    return (f"prm_viewer refuses to serve on {where} without a login: anyone who can reach this address could "
            "register checkpoints, enable trust_remote_code and read every dataset. Configure a login ([auth] in "
            ".streamlit/secrets.toml, see the README's serving section), bind to 127.0.0.1, or set "
            "PRM_VIEWER_ALLOW_ANONYMOUS=true to serve without one on purpose.")


def server_address() -> str | None:
    """The address Streamlit serves on (``server.address``; None = every interface)."""
    value = st.get_option("server.address")
    return str(value) if value else None


def refuse_unguarded() -> None:
    """Stop every page with the reason when :func:`deployment_problem` finds one (``app.py``)."""
    problem = deployment_problem(server_address(), login_configured(), bool(settings.get("allow_anonymous")))
    if problem is None:
        return
    LOG.error(problem)
    st.title("prm_viewer")
    st.error(problem, icon=":material/lock:")
    st.stop()


def admin_problem() -> str | None:
    """Why the current user may not register checkpoints or enable trust_remote_code, or None."""
    if login_configured():
        email = str(st.user.get("email") or "")
        if email and email in set(settings.list_setting("admins")):
            return None
        return (f"Registering checkpoints and enabling trust_remote_code are limited to this app's admins (setting "
                f"admins); {plain(email or 'you')} is not one. Ask an admin, or use the CLI on the server.")
    if not is_loopback(server_address()):
        return ("This app is served to the network without a login, so registering checkpoints and enabling "
                "trust_remote_code are off here; do it with the CLI on the server "
                "(`python -m prm_viewer score ...`).")
    return None
