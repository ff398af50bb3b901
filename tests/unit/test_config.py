import pytest

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
