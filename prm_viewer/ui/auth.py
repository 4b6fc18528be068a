"""Optional login through Streamlit's OIDC support (``st.login``).

Off unless a lab configures it: when ``.streamlit/secrets.toml`` has an ``[auth]`` section
(``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``; see the README), every page asks for a login first. An optional
``allowed_emails`` list in ``[prm_viewer]`` restricts who may use the app once logged in.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError


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
