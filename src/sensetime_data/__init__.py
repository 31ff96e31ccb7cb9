"""sensetime-data: what SenseTime Group disclosed about itself, as validated tables.

>>> import sensetime_data as sd
>>> sd.tables()                          # doctest: +SKIP
>>> sd.load("financials").head()          # doctest: +SKIP
>>> sd.observations(topic="compute")      # doctest: +SKIP

Importing the package imports no heavy library: pandas and pyarrow are imported by the
functions that need them. The runtime (``pip install sensetime-data``) needs only those two;
``validate``, ``build`` and ``serve`` need the ``curate`` and ``site`` extras.
"""

__version__ = "0.2.0"

from .api import UnknownTableError, connect, load, observations, package, sql, tables  # noqa: E402

__all__ = ["UnknownTableError", "connect", "load", "observations", "package", "sql", "tables"]
