"""Models built from the core's answers hold exactly their dataclass fields.

The client builds them without ``__init__`` (see ``_Model._from_core``), so a field the core
adds or drops would otherwise go unnoticed until something reads it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import fluidcloud
from test_surface import user_jwt


def exact(model: Any) -> Any:
    names = sorted(f.name for f in fields(model))
    assert sorted(vars(model)) == names, type(model).__name__
    assert model == type(model).from_dict(vars(model))
    assert repr(model).startswith(type(model).__name__ + "(")
    return model


def test_every_model_from_the_core_has_exactly_its_fields(emu, fc, space):
    exact(fc.spaces.create("Brand Assets"))
    for listed in fc.spaces.list():
        exact(listed)
    folder = exact(fc.folders.create("docs", space))
    for listed in fc.folders.list(space):
        exact(listed)
    uploaded = exact(fc.files.upload(b"logo", space, folder_id=folder.id, public=True))
    assert uploaded.public_url
    exact(fc.files.get(uploaded.id))
    for listed in fc.files.list(space, folder.id):
        exact(listed)
    exact(fc.files.public_url(uploaded.id))
    exact(fc.files.signed_url(uploaded.id, expires_in_days=1))
    shares = fc.shares.list(file_id=uploaded.id)
    assert len(shares) == 2
    for listed in shares:
        exact(listed)
    exact(fc.quota.usage())
    key = emu.new_key(["service:delegate"])["key"]
    with fluidcloud.FluidCloud(key, base_url=emu.base_url) as service:
        exact(service.exchange_service_token(user_jwt("u-1"), "fluidtalk"))
