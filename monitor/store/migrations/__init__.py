"""Alembic migrations of the alert store: ``env.py``, the revision template and
``versions/`` (one file per revision). Run them with :mod:`monitor.store.migrate`
(``AlertStore.create_schema()``, ``vigil db upgrade``); they are configured there, in
code, so no ``alembic.ini`` is needed at run time."""
