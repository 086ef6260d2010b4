"""The receiver examples (docs/examples/webhooks/) accept what the app signs and refuse
the rest: the Python one loaded from its file, as a sibling service would copy it; the Go
one compiled and run where Go is installed."""

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from django_xunchen.webhooks import signing
from django_xunchen.webhooks.addresses import post

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhooks"
SECRET = "whsec_s3cr3t-for-the-receiver"
EVENT = {
    "id": "7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13",
    "type": "message.delivered",
    "created": "2026-12-06T10:00:00+00:00",
    "data": {"id": 42, "mobile": "13800138000", "status": "delivered"},
}
BODY = json.dumps(EVENT, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location(
        "webhook_receiver_example", EXAMPLES / "receiver.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_python_example_uses_the_standard_library_only():
    tree = ast.parse((EXAMPLES / "receiver.py").read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        )
    }
    assert imported and imported <= sys.stdlib_module_names


def test_it_accepts_what_the_app_signs(example):
    assert example.verify(SECRET, BODY, signing.header(SECRET, BODY)) == EVENT


def test_it_accepts_the_documented_example(example):
    body = b'{"id":"7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13","type":"message.delivered"}'
    header = signing.header("whsec_example", body, 1796551200)
    assert example.verify("whsec_example", body, header, tolerance=10**10)["id"]


def test_it_accepts_either_signature_during_a_rotation(example):
    now = int(time.time())
    header = f"{signing.header('whsec_old', BODY, now)},v1={signing.signature(SECRET, now, BODY)}"
    assert example.verify(SECRET, BODY, header) == EVENT
    assert example.verify("whsec_old", BODY, header) == EVENT


@pytest.mark.parametrize(
    "body, header, message",
    [
        (BODY.replace(b"delivered", b"failed"), signing.header(SECRET, BODY), "no valid"),
        (BODY, signing.header("whsec_wrong", BODY), "no valid"),
        (BODY, signing.header(SECRET, BODY, int(time.time()) - 301), "too old"),
        (BODY, signing.header(SECRET, BODY, int(time.time()) + 3600), "too old"),
        (BODY, "", "malformed"),
        (BODY, "v1=abc", "malformed"),
        (BODY, "t=soon,v1=abc", "malformed"),
        (BODY, "t=1,t=2,v1=abc", "malformed"),
        (BODY, f"t={int(time.time())}", "no valid"),
    ],
)
def test_it_refuses(example, body, header, message):
    with pytest.raises(ValueError, match=message):
        example.verify(SECRET, body, header)


def test_it_agrees_with_the_apps_own_verify(example):
    now = int(time.time())
    for header in [
        signing.header(SECRET, BODY, now),
        signing.header(SECRET, BODY, now - 299),
        signing.header(SECRET, BODY, now - 400),
        signing.header("whsec_other", BODY, now),
        f" t={now} , v1={signing.signature(SECRET, now, BODY)} ",
    ]:
        try:
            expected = signing.verify(SECRET, BODY, header)
        except signing.SignatureError:
            expected = None
        try:
            got = example.verify(SECRET, BODY, header)
        except ValueError:
            got = None
        assert (got is None) == (expected is None), header


def test_the_python_receiver_serves_what_the_app_posts(example, capsys):
    example.Receiver.secret = SECRET
    example.Receiver.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), example.Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks"
    try:

        def deliver(body, header):
            headers = {signing.SIGNATURE_HEADER: header}
            return post(url, body, headers, timeout=5, max_bytes=4096, allow_private=True)

        assert deliver(BODY, signing.header(SECRET, BODY)).status == 204
        assert deliver(BODY, signing.header("whsec_wrong", BODY)).status == 400
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert capsys.readouterr().out.startswith(f"{EVENT['id']} message.delivered {{")


GO_TEST = """package main

import (
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	body := []byte(%(body)s)
	got, err := verify(%(secret)s, body, %(header)s, defaultTolerance)
	if err != nil || got.ID != %(id)s || got.Type != "message.delivered" {
		t.Fatalf("refused what the app signed: %%v", err)
	}
	if _, err := verify(%(secret)s, append(body, ' '), %(header)s, defaultTolerance); err == nil {
		t.Fatal("accepted a tampered body")
	}
	if _, err := verify("whsec_wrong", body, %(header)s, defaultTolerance); err == nil {
		t.Fatal("accepted a wrong secret")
	}
	if _, err := verify(%(secret)s, body, %(old)s, defaultTolerance); err == nil {
		t.Fatal("accepted an old signature")
	}
	if _, err := verify(%(secret)s, body, %(future)s, defaultTolerance); err == nil {
		t.Fatal("accepted a signature from the future")
	}
	if _, err := verify(%(secret)s, body, "t=1,t=2,v1=00", time.Hour); err == nil {
		t.Fatal("accepted a malformed header")
	}
}
"""


def test_the_go_example_verifies_what_the_app_signs(tmp_path):
    source = (EXAMPLES / "receiver.go").read_text(encoding="utf-8")
    assert 'r.Header.Get("X-Xunchen-Signature")' in source and "hmac.Equal" in source
    go = shutil.which("go")
    if go is None:
        return  # shown, not run: compiled only where Go is installed
    shutil.copy(EXAMPLES / "receiver.go", tmp_path / "main.go")
    now = int(time.time())
    quoted = {
        "body": json.dumps(BODY.decode()),
        "secret": json.dumps(SECRET),
        "header": json.dumps(signing.header(SECRET, BODY, now)),
        "old": json.dumps(signing.header(SECRET, BODY, now - 301)),
        "future": json.dumps(signing.header(SECRET, BODY, now + 3600)),
        "id": json.dumps(EVENT["id"]),
    }
    (tmp_path / "main_test.go").write_text(GO_TEST % quoted, encoding="utf-8")
    env = {**os.environ, "GO111MODULE": "off", "GOCACHE": str(tmp_path / "cache")}
    for command in (["vet", "main.go"], ["test", "main.go", "main_test.go"]):
        done = subprocess.run(
            [go, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    gofmt = shutil.which("gofmt")
    if gofmt is not None:
        unformatted = subprocess.run([gofmt, "-l", "main.go"], cwd=tmp_path, capture_output=True)
        assert unformatted.stdout == b""
