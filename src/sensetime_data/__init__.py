"""sensetime-data: what SenseTime Group disclosed about itself, as validated tables.

>>> import sensetime_data as sd
>>> sd.tables()                          # doctest: +SKIP
>>> sd.load("financials").head()          # doctest: +SKIP
>>> sd.observations(topic="compute")      # doctest: +SKIP

Importing the package reads nothing and imports no heavy library: pandas, pyarrow and
frictionless are imported by the functions that need them.
"""

__version__ = "0.1.0"

from .api import UnknownTableError, connect, load, observations, package, sql, tables  # noqa: E402

__all__ = ["UnknownTableError", "connect", "load", "observations", "package", "sql", "tables"]
