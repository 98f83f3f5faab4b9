"""The association's logo: uploaded by a manager, checked by its content, served with caching headers."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image
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
