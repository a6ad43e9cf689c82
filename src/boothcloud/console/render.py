"""The console's HTML: Jinja2 templates shipped in the package, one set of headers.

As the gallery does (sessions/gallery.py): autoescaped templates, `noindex`, never cached,
and a Content-Security-Policy that lets the page load only what this server serves (its own
stylesheet and script under /console/static), post forms only to itself, and never be
framed. The daily chart is inline SVG drawn here, with presentation attributes only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from boothcloud.console.access import Console
from boothcloud.payments.schemas import PaymentSummary

templates = Environment(
    loader=PackageLoader("boothcloud.console", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
}


def rupiah(amount: int | None) -> str:
    return "" if amount is None else f"Rp {amount:,}".replace(",", ".")


def when(moment: datetime | str | None) -> str:
    if moment is None:
        return "never"
    if isinstance(moment, str):
        return moment
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def size(count: int | None) -> str:
    """Bytes as people read them (a booth's free disk): binary units, one decimal."""
    if count is None:
        return ""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


templates.filters["rupiah"] = rupiah
templates.filters["size"] = size
templates.filters["when"] = when


def page(
    name: str, console: Console | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a template with the console's headers; `console` gives the nav and CSRF."""
    html = templates.get_template(name).render(
        console=console,
        csrf=console.csrf if console else context.pop("csrf", ""),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def chart(summary: PaymentSummary, width: int = 720, height: int = 200) -> dict[str, Any]:
    """Bars of each UTC day's gross (completed money) over the summary's whole range, days
    without payments included, scaled to the largest day; each bar carries its own label
    (a `<title>`) for screen readers and hover."""
    figures = {day.day: day for day in summary.days}
    first = summary.created_from.date()
    count = max((summary.created_to - summary.created_from).days, 1)
    top = max((day.gross for day in summary.days), default=0) or 1
    step = width / count
    bars = []
    for index in range(count):
        moment = first + timedelta(days=index)
        found = figures.get(moment)
        gross = found.gross if found else 0
        bar_height = round(gross / top * (height - 20), 1)
        bars.append(
            {
                "x": round(index * step + 1, 1),
                "y": round(height - bar_height, 1),
                "width": round(max(step - 2, 1), 1),
                "height": bar_height,
                "label": f"{moment.isoformat()}: {rupiah(gross)} from "
                f"{found.count if found else 0} payments",
            }
        )
    return {"width": width, "height": height, "bars": bars, "top": rupiah(top)}
