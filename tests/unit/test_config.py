from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from tocsin.config import ConfigError, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./tocsin.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.websocket_path == "/socket.io" and settings.websocket_enabled
    assert settings.redis_url is None and settings.replay_limit == 500


def test_the_seeds_and_nextauths_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSOCKET_PATH", "/api/socket/")
    monkeypatch.setenv("WEBSOCKET_CORS_ORIGIN", "https://a.example, https://b.example")
    monkeypatch.setenv("WEBSOCKET_ENABLED", "false")
    monkeypatch.setenv("NEXTAUTH_SECRET", "n")
    monkeypatch.setenv("AUTH_SECRET", "a")
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert settings.websocket_path == "/api/socket"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.websocket_enabled is False
    assert (settings.nextauth_secret, settings.auth_secret) == ("n", "a")
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


def test_plain_sqlite_url_gets_the_async_driver() -> None:
    assert load_settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TOCSIN_PORT", "70000"), ("TOCSIN_REPLAY_LIMIT", "0"), ("WEBSOCKET_ENABLED", "perhaps")],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_a_bare_database_url_or_port_of_the_host_app_is_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prisma's DATABASE_URL, a platform's PORT: the app's, not Tocsin's (TOCSIN_* only).
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PORT", "3000")
    monkeypatch.setenv("ADMIN_KEY", "not-tocsins")
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./tocsin.db"
    assert (settings.redis_url, settings.port, settings.admin_key) == (None, 8000, None)
    assert load_settings(port=9000).port == 9000  # field names still work as keywords


@pytest.mark.parametrize(
    "value", ["localhost:6379", "127.0.0.1:6379/0", "http://cache:6379", "redis://cache:port/0"]
)
def test_a_redis_url_redis_cannot_use_stops_settings_load(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TOCSIN_REDIS_URL", value)
    with pytest.raises(ConfigError, match="TOCSIN_REDIS_URL") as refused:
        load_settings()
    assert "\n" not in str(refused.value)


def test_redis_urls_with_their_scheme_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("redis://:pw@cache:6379/0", "rediss://cache", "unix:///run/redis.sock"):
        monkeypatch.setenv("TOCSIN_REDIS_URL", value)
        assert load_settings().redis_url == value
    monkeypatch.setenv("TOCSIN_REDIS_URL", "")
    assert load_settings().redis_url is None


@pytest.mark.parametrize("kind", ["text", "path to nothing", "a file that is not a key"])
def test_a_bad_jwt_public_key_stops_settings_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello\n")
    value = {
        "text": "notapem",
        "path to nothing": str(tmp_path / "missing.pem"),
        "a file that is not a key": str(not_a_key),
    }[kind]
    monkeypatch.setenv("TOCSIN_JWT_PUBLIC_KEY", value)
    with pytest.raises(ConfigError, match="TOCSIN_JWT_PUBLIC_KEY"):
        load_settings()


def test_a_jwt_public_key_as_pem_text_or_path_is_taken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pem = ECKey.generate_key("P-256").as_pem(private=False).decode()
    monkeypatch.setenv("TOCSIN_JWT_PUBLIC_KEY", pem)
    assert load_settings().jwt_public_key == pem
    path = tmp_path / "key.pem"
    path.write_text(pem)
    monkeypatch.setenv("TOCSIN_JWT_PUBLIC_KEY", str(path))
    assert load_settings().jwt_public_key == str(path)
