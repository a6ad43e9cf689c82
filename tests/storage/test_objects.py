"""One suite, two backends: put/get/head/delete/list, presigned PUT and GET with a plain
HTTP client, expiry, tampered signatures."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.storage.conftest import Backend


async def test_put_get_head_delete(backend: Backend) -> None:
    key = backend.prefix + "a/b.txt"
    info = await backend.store.put(key, b"hello", "text/plain")
    assert (info.key, info.size) == (key, 5)
    assert await backend.store.get(key) == b"hello"
    head = await backend.store.head(key)
    assert head is not None
    assert head.size == 5
    await backend.store.put(key, b"replaced")
    assert await backend.store.get(key) == b"replaced"
    await backend.store.delete(key)
    assert await backend.store.head(key) is None
    with pytest.raises(KeyError):
        await backend.store.get(key)
    await backend.store.delete(key)  # deleting what is gone is fine


async def test_list_by_prefix(backend: Backend) -> None:
    keys = [backend.prefix + k for k in ("x/2.bin", "x/1.bin", "x/sub/3.bin", "y/4.bin")]
    for i, key in enumerate(keys):
        await backend.store.put(key, bytes(i + 1))
    listed = await backend.store.list(backend.prefix + "x/")
    assert [o.key for o in listed] == sorted(keys[:3])
    assert [o.size for o in listed] == [2, 1, 3]
    partial = await backend.store.list(backend.prefix + "x/s")
    assert [o.key for o in partial] == [keys[2]]
    assert await backend.store.list(backend.prefix + "nothing/") == []


async def test_presigned_put_then_get(backend: Backend) -> None:
    key = backend.prefix + "photo.jpg"
    put_url = backend.store.presign_put(key, 60)
    body = b"\xff\xd8\xff" + bytes(range(256)) * 4
    uploaded = await backend.http.put(put_url, content=body)
    assert uploaded.status_code == 200, uploaded.text
    assert await backend.store.get(key) == body
    downloaded = await backend.http.get(backend.store.presign_get(key, 60))
    assert downloaded.status_code == 200
    assert downloaded.content == body


async def test_a_download_name_makes_the_answer_an_attachment(backend: Backend) -> None:
    """Signed with the URL on both stores (S3's response-content-disposition override; the
    local store's `download_as`): changing the name breaks the signature."""
    key = backend.prefix + "named.jpg"
    await backend.store.put(key, b"\xff\xd8 named", "image/jpeg")
    url = backend.store.presign_get(key, 60, download_as="photo-001.jpg")
    answer = await backend.http.get(url)
    assert answer.status_code == 200
    assert answer.content == b"\xff\xd8 named"
    assert answer.headers["content-disposition"] == 'attachment; filename="photo-001.jpg"'
    name = "download_as" if backend.name == "local" else "response-content-disposition"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query[name] = query[name].replace("photo-001", "evil-001")
    renamed = urlunsplit(parts._replace(query=urlencode(query)))
    assert (await backend.http.get(renamed)).status_code == 403
    with pytest.raises(ValueError, match="not a download name"):
        backend.store.presign_get(key, 60, download_as='a"; filename=evil.exe')


async def test_presigned_urls_expire(backend: Backend) -> None:
    key = backend.prefix + "late.jpg"
    await backend.store.put(key, b"data")
    get_url = backend.store.presign_get(key, 1)
    put_url = backend.store.presign_put(key, 1)
    await asyncio.sleep(2.1)
    assert (await backend.http.get(get_url)).status_code == 403
    assert (await backend.http.put(put_url, content=b"overwrite")).status_code == 403
    assert await backend.store.get(key) == b"data"


def _tamper(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    value = query[name]
    query[name] = value[:-1] + ("0" if value[-1] != "0" else "1")
    return urlunsplit(parts._replace(query=urlencode(query)))


def _signature_param(backend: Backend) -> str:
    return "signature" if backend.name == "local" else "X-Amz-Signature"


async def test_tampered_signature_is_refused(backend: Backend) -> None:
    key = backend.prefix + "guarded.jpg"
    await backend.store.put(key, b"secret")
    name = _signature_param(backend)
    bad_get = await backend.http.get(_tamper(backend.store.presign_get(key, 60), name))
    assert bad_get.status_code == 403
    bad_put = await backend.http.put(
        _tamper(backend.store.presign_put(key, 60), name), content=b"evil"
    )
    assert bad_put.status_code == 403
    assert await backend.store.get(key) == b"secret"
    if backend.name == "local":
        assert bad_get.headers["content-type"] == "application/problem+json"
        assert bad_get.json()["status"] == 403


async def test_signature_binds_key_and_method(backend: Backend) -> None:
    key = backend.prefix + "one.jpg"
    await backend.store.put(key, b"one")
    get_url = backend.store.presign_get(key, 60)
    other = get_url.replace("one.jpg", "two.jpg")
    assert (await backend.http.get(other)).status_code == 403
    # a download URL cannot be used to upload
    assert (await backend.http.put(get_url, content=b"x")).status_code == 403
    assert await backend.store.get(key) == b"one"


async def test_local_upload_size_limit(backend: Backend) -> None:
    if backend.name != "local":
        pytest.skip("the S3 store enforces its own limits")
    key = backend.prefix + "big.bin"
    url = backend.store.presign_put(key, 60)
    response = await backend.http.put(url, content=b"x" * 5000)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(5):
            yield b"y" * 1000

    streamed = await backend.http.put(url, content=chunks())
    assert streamed.status_code == 413
    assert await backend.store.head(key) is None
    assert await backend.store.list(backend.prefix) == []  # no temporary file is left


async def test_local_objects_route_needs_a_valid_url(backend: Backend) -> None:
    if backend.name != "local":
        pytest.skip("local presigned URLs only")
    missing = await backend.http.get("http://testserver/objects/a.jpg")
    assert missing.status_code == 422
    key = backend.prefix + "absent.jpg"
    assert (await backend.http.get(backend.store.presign_get(key, 60))).status_code == 404
