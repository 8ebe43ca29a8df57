"""Authorization is a plain function of the request's headers, the server's settings and the
store's tokens (a Policy); the limits on failures and appends are plain classes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.core.tokens import Token, hash_token
from tracker.server.auth import (
    ADMIN,
    NONE,
    READER,
    WRITER,
    Access,
    Failures,
    Forbidden,
    Policy,
    Rate,
    Unauthorized,
    access,
    origin_allowed,
    with_token,
)

TOKEN = "s3cret-token-value"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _token(name: str, role: str, secret: str, revoked: bool = False) -> Token:
    return Token(name, role, hash_token(secret), NOW, NOW if revoked else None)


ALICE, BOB, OLD = "alice-secret-0123456789", "bob-secret-0123456789", "old-secret-0123456789"
MANAGED = Policy(None, (_token("alice", WRITER, ALICE), _token("bob", READER, BOB), _token("old", ADMIN, OLD, True)))


def test_no_token_server_lets_everyone_write():
    assert access({}, Policy()) == Access(WRITER, "anonymous")


def test_a_single_token_server_reads_for_anyone_and_writes_for_the_token():
    policy = Policy(TOKEN)
    assert access({}, policy).role == READER
    assert access({"Authorization": f"Bearer {TOKEN}"}, policy) == Access(WRITER, "token")
    assert access({"Authorization": f"bearer {TOKEN}"}, policy).can_write


def test_once_the_store_has_tokens_reads_need_one_unless_public():
    anonymous = access({}, MANAGED)
    assert (anonymous.role, anonymous.can_read, anonymous.can_write) == (NONE, False, False)
    with pytest.raises(Unauthorized, match="reading needs a token"):
        anonymous.require_read()
    public = Policy(None, MANAGED.tokens, public_read=True)
    assert access({}, public).can_read and not access({}, public).can_write


def test_roles_nest_and_name_the_principal():
    bob = access({"Authorization": f"Bearer {BOB}"}, MANAGED)
    assert bob == Access(READER, "bob") and bob.can_read
    with pytest.raises(Forbidden, match="'bob' is a reader token"):
        bob.require_write()
    alice = access({"Authorization": f"Bearer {ALICE}"}, MANAGED)
    assert alice == Access(WRITER, "alice") and alice.can_write
    alice.require_write()


def test_a_revoked_token_reads_as_a_wrong_one():
    with pytest.raises(Unauthorized, match="wrong or revoked"):
        access({"Authorization": f"Bearer {OLD}"}, MANAGED)
    assert MANAGED.revoked("old") and not MANAGED.revoked("alice")


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Basic abc", "Bearer", "token"])
def test_a_wrong_or_malformed_header_is_refused(header):
    with pytest.raises(Unauthorized):
        access({"Authorization": header}, Policy(TOKEN))


def test_a_bearer_header_on_a_server_without_tokens_is_refused():
    with pytest.raises(Unauthorized, match="no tokens"):
        access({"Authorization": f"Bearer {TOKEN}"}, Policy())


def test_the_auth_op():
    reader = Access(READER, "anonymous")
    assert with_token(reader, TOKEN, Policy(TOKEN)).can_write
    with pytest.raises(Unauthorized):
        with_token(reader, "nope", Policy(TOKEN))
    assert with_token(reader, "anything", Policy()) is reader
    assert with_token(Access(NONE, "anonymous"), ALICE, MANAGED) == Access(WRITER, "alice")


def test_failures_by_address_in_a_sliding_window():
    failures = Failures(limit=3, window=60)
    for t in (0, 1, 2):
        assert failures.retry_after("10.0.0.1", t) is None
        failures.record("10.0.0.1", t)
    assert failures.retry_after("10.0.0.1", 3) == 57.0
    assert failures.retry_after("10.0.0.2", 3) is None  # another address is not held back
    assert failures.retry_after("10.0.0.1", 60.5) is None  # the oldest failure left the window


def test_append_rate_per_principal():
    rate = Rate(2.0, burst=2)
    assert rate.take("alice", 0) is None and rate.take("alice", 0) is None
    assert rate.take("alice", 0) == 0.5
    assert rate.take("bob", 0) is None  # each principal has its own bucket
    assert rate.take("alice", 0.5) is None
    assert Rate(None).take("anyone", 0) is None


def test_origins():
    assert origin_allowed(None, 8765, True, [])
    assert origin_allowed("http://127.0.0.1:8765", 8765, True, [])
    assert not origin_allowed("http://evil.example:8765", 8765, True, [])  # DNS rebinding
    assert origin_allowed("https://news.example", 443, False, ["https://news.example"])
