"""The session cookie's value without a browser: it expires, it opens only under the key that sealed it, and its
flags follow the settings."""

from __future__ import annotations

from fastapi import Response

from control_plane.secrets import new_key
from control_plane.settings import Settings
from control_plane.web.session import seal, set_cookie, unseal

TOKEN = "cst_example-token"


def settings(tmp_path, **values) -> Settings:
    return Settings(data_dir=tmp_path, secret_key=values.pop("secret_key", None) or new_key(), **values)


def test_a_session_opens_until_it_expires(tmp_path):
    two_hours = settings(tmp_path, session_hours=2)
    value = seal(two_hours, TOKEN, now=1_000_000)

    assert TOKEN not in value
    assert unseal(two_hours, value, now=1_000_000 + 7199) == TOKEN
    assert unseal(two_hours, value, now=1_000_000 + 7200) is None


def test_a_session_sealed_under_another_key_or_altered_opens_to_nothing(tmp_path):
    first, second = settings(tmp_path), settings(tmp_path)
    value = seal(first, TOKEN)

    assert unseal(second, value) is None
    assert unseal(first, value[:-4] + "AAAA") is None
    assert unseal(first, "not a cookie") is None


def test_the_cookie_is_secure_when_the_setting_says_so(tmp_path):
    plain, secure = Response(), Response()
    set_cookie(plain, settings(tmp_path, session_hours=1), TOKEN)
    set_cookie(secure, settings(tmp_path, session_hours=1, session_cookie_secure=True), TOKEN)

    flags = [{part.strip().lower() for part in r.headers["set-cookie"].split(";")[1:]} for r in (plain, secure)]
    assert flags[0] == {"httponly", "max-age=3600", "path=/", "samesite=strict"}
    assert flags[1] == flags[0] | {"secure"}


def test_the_secure_flag_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("COSTORY_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("COSTORY_SESSION_HOURS", "0.5")

    assert (Settings().session_cookie_secure, Settings().session_hours) == (True, 0.5)
