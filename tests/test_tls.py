"""TLS built in: `tracker serve --certfile --keyfile` serves https and wss, with a real
certificate authority made for the test (trustme) and real clients that verify it."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import urllib.request

import pytest
import trustme
from websockets.asyncio.client import connect

from tracker.core.errors import InputError
from tracker.server.app import Settings, tls_context

from .conftest import seconds
from .conftest import serve_in_process as server


@pytest.fixture(scope="module")
def authority():
    return trustme.CA()


@pytest.fixture
def pems(authority, tmp_path):
    cert = authority.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key))
    with open(chain, "wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return str(chain), str(key)


async def test_https_and_wss_with_a_verified_certificate(db, pems, authority):
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    async with server(db, certfile=pems[0], keyfile=pems[1]) as (port, _):
        def get() -> dict:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=client_context,
                                        timeout=seconds(10)) as answer:
                return json.loads(answer.read())

        assert (await asyncio.to_thread(get))["status"] == "ok"
        async with connect(f"wss://127.0.0.1:{port}/ws", ssl=client_context) as ws:
            await ws.send(json.dumps({"op": "query", "projection": "territory", "ref": 1}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), seconds(10)))
            assert reply["type"] == "snapshot" and reply["ref"] == 1
        with pytest.raises(ssl.SSLError):  # a client that does not trust the authority is refused
            async with connect(f"wss://127.0.0.1:{port}/ws", ssl=ssl.create_default_context()):
                pass


def test_bad_certificates_are_refused_with_a_clear_error(tmp_path, pems):
    with pytest.raises(InputError, match="no such file"):
        tls_context(Settings(certfile=str(tmp_path / "missing.pem")))
    with pytest.raises(InputError, match="needs --certfile"):
        tls_context(Settings(keyfile=pems[1]))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(InputError, match="cannot load the TLS certificate"):
        tls_context(Settings(certfile=str(tmp_path / "junk.pem")))


def test_serve_refuses_a_bad_certificate_before_listening_and_reads_the_token_from_a_file(tmp_path, db):
    (tmp_path / "junk.pem").write_text("not a certificate")
    done = subprocess.run([sys.executable, "-m", "tracker", "serve", "--db", str(db), "--port", "0",
                           "--certfile", str(tmp_path / "junk.pem")], capture_output=True, text=True,
                          timeout=seconds(30))
    assert done.returncode == 2 and "cannot load the TLS certificate" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "empty").write_text("\n")
    done = subprocess.run([sys.executable, "-m", "tracker", "serve", "--db", str(db), "--port", "0",
                           "--token-file", str(tmp_path / "empty")], capture_output=True, text=True,
                          timeout=seconds(30))
    assert done.returncode == 2 and "is empty" in done.stderr, done.stderr
