"""The share URL as a QR code (segno), for the booth's screen and the printed strip."""

from __future__ import annotations

import io

import segno

# Error correction M survives a smudged or slightly torn print; a 4-module quiet zone is
# what scanners expect (ISO/IEC 18004).
ERROR = "m"
BORDER = 4


def svg(text: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text, error=ERROR).save(
        buffer, kind="svg", scale=scale, border=BORDER, xmldecl=False, title=None
    )
    return buffer.getvalue()


def png(text: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text, error=ERROR).save(buffer, kind="png", scale=scale, border=BORDER)
    return buffer.getvalue()
