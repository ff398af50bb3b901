import pytest

from tocsin.auth.claims import check_times
from tocsin.auth.credentials import (
    Credential,
    from_handshake,
    from_http,
    from_text,
    parse_cookie_header,
)
from tocsin.auth.errors import AuthError


def test_cookie_header_parsing_is_lenient_and_first_wins() -> None:
    assert parse_cookie_header('a=1; b="2"; junk; a=3; =x') == {"a": "1", "b": "2"}
    assert parse_cookie_header(None) == {}


def test_chunks_are_reassembled_in_numeric_order() -> None:
    header = "authjs.session-token.10=K; authjs.session-token.2=C; authjs.session-token.0=A; " + (
        "authjs.session-token.1=B; "
        + "".join(f"authjs.session-token.{i}=x; " for i in range(3, 10))
    )
    found = from_http(header, None)
    assert found == Credential("ABC" + "x" * 7 + "K", "cookie", "authjs.session-token")


def test_cookie_beats_auth_token_beats_header() -> None:
    environ = {"HTTP_COOKIE": "next-auth.session-token=C", "HTTP_AUTHORIZATION": "Bearer H"}
    assert from_handshake({"token": "T"}, environ) == Credential(
        "C", "cookie", "next-auth.session-token"
    )
    assert from_handshake({"token": "T"}, {"HTTP_AUTHORIZATION": "Bearer H"}) == Credential(
        "T", "auth.token"
    )
    assert from_handshake(None, {"HTTP_AUTHORIZATION": "Bearer H"}) == Credential("H", "header")
    assert from_handshake({"token": " "}, {"HTTP_AUTHORIZATION": "Basic x"}) is None


def test_the_four_cookie_names_in_order() -> None:
    both = "authjs.session-token=B; __Secure-next-auth.session-token=A"
    assert from_http(both, None) == Credential("A", "cookie", "__Secure-next-auth.session-token")
    secure = "__Secure-authjs.session-token=S"
    assert from_http(secure, None) == Credential("S", "cookie", "__Secure-authjs.session-token")
    assert from_http("other=1", "Bearer X") == Credential("X", "header")


def test_checktoken_accepts_a_pasted_cookie_header() -> None:
    assert from_text("Cookie: authjs.session-token=abc") == Credential(
        "abc", "cookie", "authjs.session-token"
    )
    assert from_text("eyJabc.def.ghi") == Credential("eyJabc.def.ghi", "argument")


def test_time_claims_with_tolerance() -> None:
    now = 1_000_000.0
    assert check_times({"exp": now - 10}, now) == now - 10  # inside the 15 s tolerance
    with pytest.raises(AuthError, match=r"expired 1h ago") as expired:
        check_times({"exp": now - 3600}, now)
    assert expired.value.reason == "expired"
    with pytest.raises(AuthError) as early:
        check_times({"nbf": now + 60}, now)
    assert early.value.reason == "invalid_token"
    with pytest.raises(AuthError):
        check_times({"exp": "tomorrow"}, now)


@pytest.mark.parametrize(
    "cookie", ["authjs.session-token", "__Secure-authjs.session-token", "next-auth.session-token"]
)
def test_encrypt_and_decrypt_round_trip(cookie: str) -> None:
    from tocsin.auth.nextauth import decrypt_session_token, encrypt_session_token

    value = encrypt_session_token({"id": "u", "tenantId": "t"}, "s" * 32, cookie_name=cookie)
    opened = decrypt_session_token(value, [("AUTH_SECRET", "s" * 32)], cookie)
    assert opened.claims == {"id": "u", "tenantId": "t"}
    with pytest.raises(AuthError):
        decrypt_session_token(value, [("AUTH_SECRET", "x" * 32)], cookie)
