"""One chat-completions request through the official `openai` async client, pointed at any
OpenAI-compatible base URL (a hosted API, Ollama, vLLM, llama.cpp).

The client's own retries are off (`max_retries=0`): a failed paper is retried later by the service,
with backoff kept in the database, so a slow or failing model never holds a worker for minutes.
Errors come out as `ModelError` with a kind and a message that never carries the API key.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import openai

from bot.logs import add_secret, redact
from bot.storage.translations import Tokens

# Local servers need no key, but the client refuses an empty one (and would read OPENAI_API_KEY).
NO_KEY = "no-key"


class FailureKind(StrEnum):
    """Why a request produced no answer."""

    RATE_LIMITED = "rate_limited"  # 429: back off, honour Retry-After
    SERVER = "server"  # 5xx
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REQUEST = "request"  # other 4xx: configuration (model name, key); retried much later
    MALFORMED = "malformed"  # 200 with a body that is not a chat completion


class ModelError(Exception):
    """A request that failed; `retry_after` in seconds when the server said so."""

    def __init__(self, kind: FailureKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(redact(message))
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Completion:
    """The model's answer and what it cost."""

    content: str
    tokens: Tokens
    model: str
    estimated: bool = False  # the server reported no usage: tokens estimated from the text


def estimate_tokens(text: str) -> int:
    """A rough count when a server reports no usage: ~4 Latin characters or ~1 Han character a token."""
    han = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    return han + math.ceil((len(text) - han) / 4)


def _retry_after(response: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (the headers openai's own client reads)."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value:
            try:
                seconds = float(value) * scale
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    return None


class ChatClient:
    """Chat completions against one base URL and model."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        timeout: float = 60.0,
        max_tokens: int = 2048,
        temperature: float = 0.2,
    ) -> None:
        if api_key:
            add_secret(api_key)
        self.model = model
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout, max_retries=0)

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        """One request; ModelError on any failure (timeouts, HTTP errors, a body that is no completion)."""
        params: Any = messages
        try:
            # The client's timeout is per network operation; a server that drips bytes is cut here.
            async with asyncio.timeout(self._timeout * 1.5):
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=params,
                    temperature=self._temperature,
                    max_tokens=self._max_tokens,
                )
        except TimeoutError as exc:
            raise ModelError(FailureKind.TIMEOUT, "the model did not answer in time") from exc
        except openai.APITimeoutError as exc:
            raise ModelError(FailureKind.TIMEOUT, "the model did not answer in time") from exc
        except openai.APIConnectionError as exc:
            raise ModelError(FailureKind.CONNECTION, f"cannot reach the model server: {exc}") from exc
        except openai.RateLimitError as exc:
            raise ModelError(FailureKind.RATE_LIMITED, "HTTP 429", _retry_after(exc.response)) from exc
        except openai.InternalServerError as exc:
            raise ModelError(FailureKind.SERVER, f"HTTP {exc.status_code}", _retry_after(exc.response)) from exc
        except openai.APIStatusError as exc:
            raise ModelError(FailureKind.REQUEST, f"HTTP {exc.status_code}: {str(exc)[:200]}") from exc
        except (openai.APIResponseValidationError, ValueError, TypeError) as exc:
            raise ModelError(FailureKind.MALFORMED, f"malformed response: {type(exc).__name__}") from exc
        try:
            choice = response.choices[0]
            content = choice.message.content
        except (IndexError, AttributeError, TypeError) as exc:
            raise ModelError(FailureKind.MALFORMED, "a completion without choices") from exc
        if not isinstance(content, str):
            raise ModelError(FailureKind.MALFORMED, "a completion without text")
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        if isinstance(prompt, int) and isinstance(completion, int):
            return Completion(content, Tokens(prompt, completion), str(response.model or self.model))
        sent = "".join(m["content"] for m in messages)
        return Completion(
            content, Tokens(estimate_tokens(sent), estimate_tokens(content)), str(response.model or self.model), True
        )

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()
