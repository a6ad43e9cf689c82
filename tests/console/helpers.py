"""Signing in to the console as a browser does: the sign-in page's CSRF token, the form."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, credential: str, *, owner: bool = False
) -> httpx.Response:
    """Open the sign-in page and post its form; the session cookie lands in `http`."""
    path = "/console/owner/login" if owner else "/console/login"
    field = "license_key" if owner else "token"
    form = await http.get(path)
    assert form.status_code == 200, form.text
    return await http.post(path, data={"csrf": csrf_of(form.text), field: credential})


async def page_csrf(http: httpx.AsyncClient, path: str) -> str:
    answer = await http.get(path)
    assert answer.status_code == 200, answer.text
    return csrf_of(answer.text)
