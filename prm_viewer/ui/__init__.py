"""Streamlit helpers shared by the pages (``pages/*.py``).

Pages get the store and the job runner from :mod:`prm_viewer.ui.state`::

    from prm_viewer.ui.state import get_store, get_runner, cached

``get_store()`` is the ONE :class:`~prm_viewer.store.Store` of the app process; read through
``store.cursor()`` (per thread) and cache query results with ``cached(fn, store, ...)``, which is
keyed on ``store.data_version()`` so a write invalidates every cached read.
"""
