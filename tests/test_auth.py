"""Authorization is a plain function of the request's headers and the server's settings."""

from __future__ import annotations

import pytest

from tracker.server.auth import READER, WRITER, Access, Unauthorized, access, origin_allowed, with_token

TOKEN = "s3cret-token-value"


def test_no_token_server_lets_everyone_write():
    assert access({}, None) == Access(WRITER, "anonymous")


def test_a_token_server_reads_for_anyone_and_writes_for_the_token():
    assert access({}, TOKEN).role == READER
    assert access({"Authorization": f"Bearer {TOKEN}"}, TOKEN) == Access(WRITER, "token")
    assert access({"Authorization": f"bearer {TOKEN}"}, TOKEN).can_write


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Basic abc", "Bearer", "token"])
def test_a_wrong_or_malformed_header_is_refused(header):
    with pytest.raises(Unauthorized):
        access({"Authorization": header}, TOKEN)


def test_a_bearer_header_on_a_server_without_tokens_is_refused():
    with pytest.raises(Unauthorized, match="no tokens"):
        access({"Authorization": f"Bearer {TOKEN}"}, None)


def test_the_auth_op():
    reader = Access(READER, "anonymous")
    assert with_token(reader, TOKEN, TOKEN).can_write
    with pytest.raises(Unauthorized):
        with_token(reader, "nope", TOKEN)
    assert with_token(reader, "anything", None) is reader


def test_origins():
    assert origin_allowed(None, 8765, True, [])
    assert origin_allowed("http://127.0.0.1:8765", 8765, True, [])
    assert not origin_allowed("http://evil.example:8765", 8765, True, [])  # DNS rebinding
    assert origin_allowed("https://news.example", 443, False, ["https://news.example"])
