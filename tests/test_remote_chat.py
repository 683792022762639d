"""ChatClient against a real chat-completions HTTP server on 127.0.0.1 that fails on cue (429, 5xx, hang,
malformed body), plus an unreachable port, API-key hygiene and the rate limit."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from skeletonllm.remote import ChatClient, ChatError, EndpointUnreachable

KEY_ENV = "SKELETONLLM_TEST_CHAT_KEY"
SECRET = "sk-test-7f3a9c1e5b2d4f60"


class ChatServer:
    """A chat-completions server whose next responses follow a script of cues:
    "ok", "length" (ok, but cut off at max_tokens), "429:<retry-after>", "500", "503", "hang:<seconds>", "malformed",
    "echo-401" (echoes the request headers back in a 401 body). When the script runs out it answers "ok". The reply
    text is answer(request body), by default "reply to: <last message's content>". Every request is recorded."""

    def __init__(self, script: list[str], answer=None):
        self.script = list(script)
        self.answer = answer or (lambda body: f"reply to: {body['messages'][-1]['content']}")
        self.requests: list[dict] = []  # {"t": monotonic s, "headers": dict, "body": dict, "cue": str, "path": str}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    cue = server.script.pop(0) if server.script else "ok"
                    record = {"t": time.monotonic(), "headers": dict(self.headers), "body": body, "cue": cue}
                    server.requests.append({**record, "path": self.path})
                if cue.startswith("hang:"):
                    time.sleep(float(cue.split(":")[1]))
                    return  # the client has given up by now; close without an answer
                if cue in ("ok", "length"):
                    reply = {"role": "assistant", "content": server.answer(body)}
                    finish = "stop" if cue == "ok" else "length"
                    self._send(200, {"choices": [{"message": reply, "finish_reason": finish}]})
                elif cue.startswith("429:"):
                    self._send(429, {"error": "slow down"}, {"Retry-After": cue.split(":")[1]})
                elif cue in ("500", "503"):
                    self._send(int(cue), {"error": "server trouble"})
                elif cue == "malformed":
                    self._send_raw(200, b'{"choices": [{"mess')
                elif cue == "echo-401":
                    # the first copy of the key sits whole in the client's 200-char snippet, the second straddles
                    # its end, so a client that cut before redacting would leak a prefix of the key
                    auth = self.headers["Authorization"]
                    echoed = f"{auth} {'.' * (142 - len(auth))} {auth}"
                    self._send(401, {"error": "bad key", "you_sent": echoed})
                else:
                    raise AssertionError(f"unknown cue {cue}")

            def _send(self, status, payload, headers=None):
                self._send_raw(status, json.dumps(payload).encode(), headers)

            def _send_raw(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    """Factory: chat_server(script) starts a ChatServer; all are shut down after the test."""
    servers = []

    def start(script):
        servers.append(ChatServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def make_client(server, **overrides) -> ChatClient:
    options = dict(model="test-model", api_key_env=KEY_ENV, timeout_s=2, max_retries=4, backoff_s=0.01)
    options.update(overrides)
    return ChatClient(server.base_url, **options)


MESSAGES = [{"role": "user", "content": "which limb moves?"}]


def test_success_sends_model_messages_and_params(chat_server):
    server = chat_server(["ok"])
    assert make_client(server).complete(MESSAGES, temperature=0.2) == "reply to: which limb moves?"
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {"model": "test-model", "messages": MESSAGES, "temperature": 0.2}


def test_reply_says_whether_the_answer_was_cut_off(chat_server):
    server = chat_server(["ok", "length"])
    client = make_client(server)
    assert client.reply(MESSAGES).finish_reason == "stop"
    cut = client.reply(MESSAGES, max_tokens=3)
    assert cut.finish_reason == "length" and cut.text == "reply to: which limb moves?"


def test_429_retry_after_is_honoured(chat_server):
    server = chat_server(["429:1", "ok"])
    assert make_client(server, backoff_s=0.001).complete(MESSAGES).startswith("reply to:")
    cues = [r["cue"] for r in server.requests]
    assert cues == ["429:1", "ok"]
    gap = server.requests[1]["t"] - server.requests[0]["t"]
    assert 0.9 <= gap < 3.0  # waited Retry-After (1 s), not the 1 ms backoff


def test_500s_then_success_with_exponential_backoff(chat_server):
    server = chat_server(["500", "503", "500", "ok"])
    assert make_client(server, backoff_s=0.05).complete(MESSAGES).startswith("reply to:")
    times = [r["t"] for r in server.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]  # expected 0.05, 0.10, 0.20 s
    assert len(gaps) == 3
    for gap, expected in zip(gaps, (0.05, 0.10, 0.20)):
        assert expected * 0.7 <= gap < expected + 0.5  # slack for scheduling jitter on a busy machine
    assert gaps[2] > gaps[0]


def test_5xx_forever_gives_up_with_chat_error(chat_server):
    server = chat_server(["500"] * 3)
    with pytest.raises(ChatError, match="gave up after 3 attempts.*HTTP 500") as caught:
        make_client(server, max_retries=2).complete(MESSAGES)
    assert not isinstance(caught.value, EndpointUnreachable)
    assert len(server.requests) == 3


def test_hang_longer_than_timeout_is_retried(chat_server):
    server = chat_server(["hang:1.0", "ok"])
    start = time.monotonic()
    assert make_client(server, timeout_s=0.3).complete(MESSAGES).startswith("reply to:")
    assert time.monotonic() - start < 0.9  # gave up on the hang at the timeout, did not wait it out
    assert [r["cue"] for r in server.requests] == ["hang:1.0", "ok"]


def test_hang_every_time_is_unreachable(chat_server):
    server = chat_server(["hang:1.0"] * 2)
    with pytest.raises(EndpointUnreachable, match="timeout_s=0.2.*after 2 attempts"):
        make_client(server, timeout_s=0.2, max_retries=1).complete(MESSAGES)


def test_malformed_body_retried_then_success(chat_server):
    server = chat_server(["malformed", "ok"])
    assert make_client(server).complete(MESSAGES).startswith("reply to:")
    assert len(server.requests) == 2


def test_malformed_body_every_time_is_chat_error(chat_server):
    server = chat_server(["malformed"] * 3)
    with pytest.raises(ChatError, match="malformed response body"):
        make_client(server, max_retries=2).complete(MESSAGES)
    assert len(server.requests) == 3


def test_unreachable_port_fails_fast_with_clear_message():
    with socket.socket() as probe:  # a port that was free a moment ago and now has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ChatClient(f"http://127.0.0.1:{port}/v1", "m", api_key_env=KEY_ENV, backoff_s=0.5, max_retries=5)
    start = time.monotonic()
    with pytest.raises(EndpointUnreachable) as caught:
        client.complete(MESSAGES)
    assert time.monotonic() - start < 0.4  # refused: no retries, no backoff sleeps
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in message
    assert "server is running" in message and "base_url" in message


def test_api_key_sent_but_never_leaked(chat_server, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    server = chat_server(["500", "malformed", "ok", "echo-401"])
    client = make_client(server)
    assert client.complete(MESSAGES).startswith("reply to:")
    assert [r["headers"]["Authorization"] for r in server.requests] == [f"Bearer {SECRET}"] * 3
    with pytest.raises(ChatError) as caught:  # the server echoes the key back in its error body
        client.complete(MESSAGES)
    assert "401" in str(caught.value) and KEY_ENV in str(caught.value)
    assert "[REDACTED]" in str(caught.value)
    rendered = "".join(traceback.format_exception(caught.value))
    for text in (rendered, repr(caught.value), caplog.text, repr(client), str(vars(client))):
        assert SECRET[:10] not in text  # not even a prefix cut off by truncation
    assert "retry" in caplog.text  # the retries were logged, without the key


def test_no_key_in_env_sends_no_authorization(chat_server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    server = chat_server(["ok"])
    make_client(server).complete(MESSAGES)
    assert "Authorization" not in server.requests[0]["headers"]


def test_rate_limit_spaces_requests(chat_server):
    server = chat_server([])
    client = make_client(server, requests_per_s=20)  # at most one request start per 50 ms
    start = time.monotonic()
    for _ in range(5):
        client.complete(MESSAGES)
    elapsed = time.monotonic() - start
    times = [r["t"] for r in server.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 4 and min(gaps) >= 0.03  # 50 ms less scheduling jitter; unlimited would be ~1 ms
    assert times[-1] - times[0] >= 0.18
    assert 0.19 <= elapsed < 1.5


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match="http"):
        ChatClient("127.0.0.1:8000/v1", "m")
    with pytest.raises(ValueError, match="requests_per_s"):
        ChatClient("http://127.0.0.1:1/v1", "m", requests_per_s=0)
    with pytest.raises(ValueError, match="messages"):
        ChatClient("http://127.0.0.1:1/v1", "m").complete([])
