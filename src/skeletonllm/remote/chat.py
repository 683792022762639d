"""Client for an OpenAI-compatible chat-completions endpoint, with retries, backoff, a rate limit and no key leaks.

Only the standard library is used (urllib). The API key is read from an environment variable on every request,
is never stored on the client, and is redacted from every log line and exception message.
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone

from skeletonllm.errors import CommandError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})  # plus every 5xx
UNREACHABLE_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})
SNIPPET_CHARS = 200
STATUS_HINTS = {
    401: "check the API key in the environment variable {env}",
    403: "check that the API key in {env} may use this model",
    404: "check base_url (it usually ends in /v1) and the model name",
}


class ChatError(CommandError, RuntimeError):
    """The endpoint answered, but not with a usable chat completion (after all retries where retrying helps); a
    command that meets it reports that one line (errors.CommandError)."""


class EndpointUnreachable(ChatError):
    """The endpoint could not be reached at all: refused, unknown host, or no answer within the timeout."""


class RateLimiter:
    """Spaces calls so that at most `requests_per_s` start per second (thread-safe); None means no limit."""

    def __init__(self, requests_per_s: float | None):
        if requests_per_s is not None and requests_per_s <= 0:
            raise ValueError(f"requests_per_s must be positive or None, got {requests_per_s}")
        self.interval_s = 0.0 if requests_per_s is None else 1.0 / requests_per_s
        self._next_start = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call may start, and reserve that slot."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval_s
        if start > now:
            time.sleep(start - now)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or unparsable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


@dataclass(frozen=True)
class Reply:
    """A chat completion: its text, and why generation stopped ("stop"; "length" when cut off at max_tokens; None
    when the server does not say)."""

    text: str
    finish_reason: str | None = None


def extract_reply(body: bytes) -> Reply:
    """The first choice's message text and finish_reason from a chat-completions response body; ValueError when
    malformed."""
    try:
        choice = json.loads(body)["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise ValueError(f"not a chat completion ({type(err).__name__}: {err})") from None
    if isinstance(content, list):  # some servers return a list of {"type": "text", "text": ...} parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise ValueError(f"message content is {type(content).__name__}, not text")
    return Reply(content, choice.get("finish_reason"))


class ChatClient:
    """OpenAI-compatible chat client: `complete(messages, **params) -> str`, or `reply(...) -> Reply` with the
    finish reason.

    Retries HTTP 429/5xx, timeouts, dropped connections and malformed bodies up to `max_retries` times with
    exponential backoff (`backoff_s * 2**attempt`, or the server's Retry-After when given). Raises
    EndpointUnreachable when the endpoint cannot be reached and ChatError for any other failure.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        requests_per_s: float | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise ValueError("timeout_s must be > 0, max_retries >= 0 and backoff_s >= 0")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.rate_limiter = RateLimiter(requests_per_s)

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def _api_key(self) -> str:
        return os.environ.get(self.api_key_env, "")

    def _redact(self, text: str) -> str:
        """`text` with the API key (if set) replaced, so it can go into logs and exceptions."""
        key = self._api_key()
        return text.replace(key, "[REDACTED]") if key else text

    def _request(self, payload: bytes) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return urllib.request.Request(self.url, data=payload, headers=headers, method="POST")

    def _unreachable(self, reason: str) -> EndpointUnreachable:
        return EndpointUnreachable(
            self._redact(
                f"cannot reach the chat endpoint {self.url}: {reason}. Check that the server is running, that "
                f"base_url (scheme, host, port and a path prefix such as /v1) is right, and that this machine "
                f"can reach it."
            )
        )

    def complete(self, messages: list[dict], **params) -> str:
        """The reply text to `messages` (see `reply`)."""
        return self.reply(messages, **params).text

    def reply(self, messages: list[dict], **params) -> Reply:
        """Send `messages` (OpenAI chat format; image parts as data URLs) and return the reply.

        `params` (temperature, max_tokens, ...) go into the request body as they are.
        """
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
        payload = json.dumps({"model": self.model, "messages": messages, **params}).encode()
        attempts = self.max_retries + 1
        last_problem = ""
        network_failure = False
        for attempt in range(attempts):
            wait_s: float | None = None
            self.rate_limiter.wait()
            try:
                with urllib.request.urlopen(self._request(payload), timeout=self.timeout_s) as response:
                    body = response.read()
                return extract_reply(body)
            except urllib.error.HTTPError as err:
                # redact before cutting: a cut could leave a prefix of the key that redaction would miss
                snippet = self._redact(err.read(65536).decode("utf-8", "replace"))[:SNIPPET_CHARS]
                last_problem = f"HTTP {err.code} {err.reason}: {snippet}"
                if err.code not in RETRYABLE_STATUS and err.code < 500:
                    hint = STATUS_HINTS.get(err.code, "check the request parameters").format(env=self.api_key_env)
                    raise ChatError(self._redact(f"{self.url} answered {last_problem} ({hint})")) from None
                wait_s = parse_retry_after(err.headers.get("Retry-After"))
                network_failure = False
            except urllib.error.URLError as err:
                reason = err.reason
                if isinstance(reason, socket.gaierror) or getattr(reason, "errno", None) in UNREACHABLE_ERRNOS:
                    raise self._unreachable(str(reason)) from None
                network_failure = True
                last_problem = (
                    f"no connection within timeout_s={self.timeout_s}"
                    if isinstance(reason, TimeoutError)
                    else f"connection failed: {reason}"
                )
            except TimeoutError:
                network_failure = True
                last_problem = f"no answer within timeout_s={self.timeout_s}"
            except (ConnectionError, http.client.HTTPException) as err:
                network_failure = True
                last_problem = f"connection dropped: {type(err).__name__}: {err}"
            except ValueError as err:  # malformed body from extract_reply
                network_failure = False
                last_problem = f"malformed response body: {err}"
            if attempt + 1 < attempts:
                delay = self.backoff_s * 2**attempt if wait_s is None else wait_s
                log.warning(
                    self._redact(f"{self.url}: {last_problem}; retry {attempt + 1}/{self.max_retries} in {delay:.2f} s")
                )
                time.sleep(delay)
        if network_failure:
            raise self._unreachable(f"{last_problem} (after {attempts} attempts)")
        raise ChatError(self._redact(f"{self.url}: gave up after {attempts} attempts; last error: {last_problem}"))
