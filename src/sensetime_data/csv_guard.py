"""CSV exports open in a spreadsheet as text, never as formulas.

The data holds cells that begin with ``=`` (the comparator), ``+`` or ``-`` (printed figures
such as +59%, the gap ``-``) and ``@`` (@4K30fps). A spreadsheet would read such a cell as a
formula; in CSV exports every text cell that begins with ``= + - @``, a tab or a carriage
return gets a leading apostrophe, as OWASP advises. Plain numbers (-19, 36.4) are left as they
are, and so are the JSON API and the package's own CSV files.

>>> neutralise("=") , neutralise("+59%"), neutralise("-19"), neutralise("智慧城市")
("'=", "'+59%", '-19', '智慧城市')
"""

from __future__ import annotations

import csv
import io
import re

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
RISKY = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(RISKY) and not NUMBER.match(cell) else cell


def neutralise_csv(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # Datasette's own line ends
    for number, row in enumerate(rows):
        writer.writerow(row if number == 0 else [neutralise(cell) for cell in row])
    return out.getvalue()


def _is_csv(scope) -> bool:
    return scope["path"].endswith(".csv") or b"_format=csv" in scope.get("query_string", b"")


def guard_csv(app):
    """ASGI middleware around Datasette that rewrites its CSV exports."""
    async def guarded(scope, receive, send):
        if scope["type"] != "http" or not _is_csv(scope):
            return await app(scope, receive, send)
        start, chunks = {}, []

        async def collect(message):
            # The database is small: hold the whole export, rewrite it, then send it.
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                body = neutralise_csv(body.decode("utf-8")).encode("utf-8")
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, collect)

    return guarded
