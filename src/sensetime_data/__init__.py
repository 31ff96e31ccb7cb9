"""sensetime-data: what SenseTime Group disclosed about itself, as validated tables.

>>> import sensetime_data as sd
>>> sd.load("financials").head()          # doctest: +SKIP
"""

__version__ = "0.1.0"
