"""The association's logo: uploaded by a manager, checked by its content, served with caching headers."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from starlette.applications import Starlette

from instance.runtime import Instance
from tests.associations_support import association, found, person, send
from tests.conftest import make_client


def image_bytes(size: tuple[int, int] = (64, 48), kind: str = "PNG", noise: bool = False) -> bytes:
    picture = Image.new("RGB", size, (200, 30, 40))
    if noise:
        generator = random.Random(4)
        picture.putdata([tuple(generator.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
    out = io.BytesIO()
    picture.save(out, format=kind)
    return out.getvalue()


async def test_a_manager_uploads_a_png_logo_that_is_served_with_caching(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")

    response = await send(
        alice, "/associations/amis/edit", {"name": "Les Amis"}, files={"logo": ("logo.png", image_bytes(), "image/png")}
    )

    assert response.status_code == 303
    profile = await make_client(app).get("/associations/amis")
    assert '<img class="logo" src="/associations/amis/logo?v=' in profile.text
    served = await make_client(app).get("/associations/amis/logo")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert "max-age=" in served.headers["cache-control"] and "public" in served.headers["cache-control"]
    stored = Image.open(io.BytesIO(served.content))
    assert stored.format == "PNG" and stored.size == (64, 48)
    again = await make_client(app).get("/associations/amis/logo", headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304


async def test_a_jpeg_is_reencoded_to_png_and_a_large_one_shrunk(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")

    response = await send(
        alice,
        "/associations/amis/edit",
        {"name": "Les Amis"},
        files={"logo": ("photo.jpg", image_bytes((1200, 600), "JPEG"), "image/jpeg")},
    )

    assert response.status_code == 303
    served = await alice.get("/associations/amis/logo")
    stored = Image.open(io.BytesIO(served.content))
    assert stored.format == "PNG" and max(stored.size) <= 512


async def test_text_named_png_is_refused(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")

    response = await send(
        alice,
        "/associations/amis/edit",
        {"name": "Les Amis", "postal_code": "69001"},
        files={"logo": ("logo.png", b"this is not an image at all", "image/png")},
    )

    assert response.status_code == 400
    assert "not an image we can read" in response.text
    assert 'value="69001"' in response.text
    unchanged = await association(instance, "amis")
    assert unchanged is not None and not unchanged.has_logo and unchanged.postal_code == ""
    assert (await alice.get("/associations/amis/logo")).status_code == 404


async def test_too_many_pixels_are_refused(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")

    response = await send(
        alice,
        "/associations/amis/edit",
        {"name": "Les Amis"},
        files={"logo": ("wide.png", image_bytes((2001, 10)), "image/png")},
    )

    assert response.status_code == 400
    assert "2000 × 2000" in response.text


@pytest.mark.parametrize("settings_overrides", [{"max_logo_bytes": 4096}])
async def test_a_file_over_the_size_limit_is_refused(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")
    heavy = image_bytes((100, 100), noise=True)
    assert len(heavy) > 4096

    response = await send(
        alice, "/associations/amis/edit", {"name": "Les Amis"}, files={"logo": ("logo.png", heavy, "image/png")}
    )

    assert response.status_code == 400
    assert "at most 4 kB" in response.text
    unchanged = await association(instance, "amis")
    assert unchanged is not None and not unchanged.has_logo


async def test_the_manager_removes_the_logo_and_others_cannot_change_it(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")
    await send(
        alice, "/associations/amis/edit", {"name": "Les Amis"}, files={"logo": ("l.png", image_bytes(), "image/png")}
    )

    denied = await send(
        bob, "/associations/amis/edit", {"name": "Les Amis", "remove_logo": "1"}, files={"logo": ("l.png", b"", "")}
    )
    assert denied.status_code == 403
    assert (await bob.get("/associations/amis/logo")).status_code == 200

    removed = await send(alice, "/associations/amis/edit", {"name": "Les Amis", "remove_logo": "1"})
    assert removed.status_code == 303
    assert (await bob.get("/associations/amis/logo")).status_code == 404
    assert "/associations/amis/logo" not in (await bob.get("/associations/amis")).text


# -- hostile files -------------------------------------------------------------------------------------------------

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<script>alert(document.cookie)</script><rect width="64" height="64"/></svg>'
)
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes that declares ``width`` × ``height`` pixels (its data would inflate to that)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


async def upload(app: Starlette, name: str, content: bytes, content_type: str) -> httpx.Response:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")
    return await send(
        alice, "/associations/amis/edit", {"name": "Les Amis"}, files={"logo": (name, content, content_type)}
    )


async def assert_no_logo(app: Starlette, instance: Instance) -> None:
    stored = await association(instance, "amis")
    assert stored is not None and not stored.has_logo
    assert (await make_client(app).get("/associations/amis/logo")).status_code == 404


@pytest.mark.parametrize("declared", ["image/svg+xml", "image/png"])
async def test_an_svg_with_a_script_is_refused_whatever_type_the_browser_gives(
    app: Starlette, instance: Instance, declared: str
) -> None:
    response = await upload(app, "logo.svg" if declared.endswith("xml") else "logo.png", SVG, declared)

    assert response.status_code == 400
    assert "not an image we can read" in response.text
    await assert_no_logo(app, instance)


def with_html(kind: str) -> bytes:
    """A valid image carrying a page: after its end (PNG or GIF), or in a PNG text chunk."""
    if kind == "PNG text chunk":
        info = PngInfo()
        info.add_text("Comment", HTML.decode())
        out = io.BytesIO()
        Image.new("RGB", (40, 30)).save(out, format="PNG", pnginfo=info)
        return out.getvalue()
    return image_bytes((40, 30), kind) + HTML


@pytest.mark.parametrize("kind", ["PNG", "GIF", "PNG text chunk"])
async def test_an_image_carrying_html_is_served_reencoded_as_a_png_that_is_never_sniffed(
    app: Starlette, instance: Instance, kind: str
) -> None:
    content = with_html(kind)
    assert HTML in content

    response = await upload(app, "page.html", content, "text/html")

    assert response.status_code == 303
    served = await make_client(app).get("/associations/amis/logo")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert b"<script" not in served.content and b"<html" not in served.content
    assert Image.open(io.BytesIO(served.content)).format == "PNG"


async def test_a_truncated_png_is_refused(app: Starlette, instance: Instance) -> None:
    whole = image_bytes((200, 200), noise=True)

    response = await upload(app, "cut.png", whole[: len(whole) // 2], "image/png")

    assert response.status_code == 400
    assert "not an image we can read" in response.text
    await assert_no_logo(app, instance)


@pytest.mark.parametrize("size", [(2001, 2001), (30_000, 30_000), (1, 4_000_000)])
async def test_a_small_file_declaring_huge_dimensions_is_refused(
    app: Starlette, instance: Instance, size: tuple[int, int]
) -> None:
    bomb = declared_png(*size)
    assert len(bomb) < 500

    response = await upload(app, "bomb.png", bomb, "image/png")

    assert response.status_code == 400
    assert "2000 × 2000" in response.text
    await assert_no_logo(app, instance)


async def test_a_file_name_with_a_path_is_only_a_name(app: Starlette, instance: Instance, tmp_path: Path) -> None:
    """Logos live in the database: the name the browser gives is never used, not even as a file name."""
    places = [tmp_path.parent, Path.cwd(), Path.cwd().parent]
    before = sorted(p for p in tmp_path.parent.rglob("x.png")) + [p / "x.png" for p in places if (p / "x.png").exists()]

    response = await upload(app, "../../x.png", image_bytes(), "image/png")

    assert response.status_code == 303
    served = await make_client(app).get("/associations/amis/logo")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert "x.png" not in served.headers.get("content-disposition", "")
    after = sorted(p for p in tmp_path.parent.rglob("x.png")) + [p / "x.png" for p in places if (p / "x.png").exists()]
    assert after == before  # nothing written, here or above
