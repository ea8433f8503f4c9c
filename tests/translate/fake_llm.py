"""A fake OpenAI-compatible chat-completions server (aiohttp) for tests and the translation benchmark.

Wire format, from the `openai` package (v3.57) the bot uses and the OpenAI API reference:
- `POST {base_url}/chat/completions` with a JSON body carrying `model` and `messages` (role + content):
  openai/resources/chat/completions/completions.py posts to "/chat/completions".
- `Authorization: Bearer <key>`: openai/lib/_client_auth.py builds exactly this header.
- A success is a `chat.completion` object: id, object, created, model, choices[{index, message{role,
  content}, logprobs, finish_reason}], usage{prompt_tokens, completion_tokens, total_tokens}
  (openai/types/chat/chat_completion.py, openai/types/completion_usage.py; the API reference's example
  response has the same shape).
- An error is `{"error": {"message", "type", "param", "code"}}` with its HTTP status; the client reads
  `body["error"]` and maps 429 to RateLimitError and >= 500 to InternalServerError
  (openai/_client.py `_make_status_error`). A 429 may carry `retry-after` / `retry-after-ms`
  (openai/_base_client.py `_parse_retry_after_header`); OpenAI's 429 type is `rate_limit_exceeded`
  / code `rate_limit_exceeded` per its error-codes guide.

Each request's behaviour is the next `Mode` in `script` (then `default`): a good translation, a slow
one, 429, 500, a hang past the client's timeout, a body that is no completion, a truncated body,
non-JSON content, English or Japanese instead of Chinese, the instructions echoed back, or an
answer that obeys an instruction injected into the abstract.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import time
from collections import deque
from enum import StrEnum
from typing import Any

from aiohttp import web

# Simplified-script words (the bot must convert them to traditional); two characters per English word.
_WORDS = tuple(
    "语言模型训练数据方法实验结果网络学习优化推理评估任务性能提出显著框架结构参数样本"
    "检索生成对齐视觉图像文本长度效率计算内存质量误差分布策略奖励代理规划知识表示特征"[i : i + 2]
    for i in range(0, 80, 2)
)
_KEEP = re.compile(r"^(?:https?://\S+|[A-Z][A-Za-z0-9-]*[A-Z0-9][A-Za-z0-9-]*|\d[\d.,%]*)$")


_ROLES = frozenset({"developer", "system", "user", "assistant", "tool", "function"})


def _text(content: Any) -> str:
    """A message's text, whether a string or a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class Mode(StrEnum):
    GOOD = "good"
    SLOW = "slow"  # a good answer after `slow_seconds`
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    HANG = "hang"  # never answers (until the server stops): the client's timeout must fire
    NOT_A_COMPLETION = "html"  # 200 with an HTML page
    TRUNCATED = "truncated"  # 200 JSON cut in the middle
    NOT_JSON = "not-json"  # a completion whose content is prose, not the JSON object asked for
    ENGLISH = "english"  # "translates" into English
    JAPANESE = "japanese"
    ECHO_RULES = "echo"  # repeats the system instructions
    OBEY_INJECTION = "obey"  # follows an instruction planted in the abstract
    NO_USAGE = "no-usage"  # a good answer without the usage object (some local servers)
    ECHO_KEY = "echo-key"  # a 500 whose error message repeats the Authorization header


def fake_chinese(english: str) -> str:
    """A deterministic "translation": each word becomes two Han characters; names, numbers, URLs stay."""
    out: list[str] = []
    for word in english.split():
        bare = word.strip(".,;:()[]\"'")
        if _KEEP.match(bare):
            out.append(f" {bare} ")
        else:
            digest = hashlib.blake2s(bare.lower().encode(), digest_size=2).digest()
            out.append(_WORDS[int.from_bytes(digest) % len(_WORDS)])
        if word.endswith((".", ";")):
            out.append("。")
        elif word.endswith(","):
            out.append("，")
    return " ".join("".join(out).split())


class FakeModel:
    """The server; `async with FakeModel() as fake:` then point the client at `fake.base_url`."""

    def __init__(self, *, api_key: str = "", model: str = "fake-translator", latency: float = 0.0) -> None:
        self.api_key = api_key
        self.model = model
        self.latency = latency  # seconds added to every answer (the benchmark's model speed)
        self.slow_seconds = 0.3
        self.retry_after = "2"
        self.script: deque[Mode] = deque()
        self.default = Mode.GOOD
        self.requests: list[dict[str, Any]] = []  # every accepted request body
        self.headers: list[dict[str, str]] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> FakeModel:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def then(self, *modes: Mode) -> FakeModel:
        """Queue the behaviour of the next requests."""
        self.script.extend(modes)
        return self

    @staticmethod
    def _error(
        status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
    ) -> web.Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return web.json_response(body, status=status, headers=headers)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if self.api_key and auth != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not isinstance(messages, list):
            return self._error(400, "'model' and 'messages' are required.", "invalid_request_error", None)
        for message in messages:
            # Roles: the union in openai/types/chat/chat_completion_message_param.py; content is a string
            # or a list of parts (chat_completion_user_message_param.py), None only for an assistant's.
            if not isinstance(message, dict) or message.get("role") not in _ROLES:
                return self._error(400, "Invalid message role.", "invalid_request_error", None)
            content = message.get("content")
            if not isinstance(content, str | list) and not (content is None and message["role"] == "assistant"):
                return self._error(400, "Invalid message content.", "invalid_request_error", None)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        mode = self.script.popleft() if self.script else self.default
        if self.latency:
            await asyncio.sleep(self.latency)
        if mode is Mode.RATE_LIMITED:
            return self._error(
                429,
                "Rate limit reached for requests. Please try again in 2s.",
                "requests",
                "rate_limit_exceeded",
                {"retry-after": self.retry_after},
            )
        if mode is Mode.SERVER_ERROR:
            return self._error(500, "The server had an error while processing your request.", "server_error", None)
        if mode is Mode.ECHO_KEY:
            return self._error(500, f"upstream rejected {auth}", "server_error", None)
        if mode is Mode.HANG:
            await self._stop.wait()
            return web.Response(status=503)
        if mode is Mode.NOT_A_COMPLETION:
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if mode is Mode.SLOW:
            await asyncio.sleep(self.slow_seconds)
        system = next((_text(m["content"]) for m in messages if m["role"] in {"system", "developer"}), "")
        user = next((_text(m["content"]) for m in messages if m["role"] == "user"), "{}")
        try:
            paper = json.loads(user)
        except json.JSONDecodeError:
            paper = {"title": user, "abstract": user}
        content = self._content(mode, str(paper.get("title", "")), str(paper.get("abstract", "")), system)
        prompt_tokens = sum(len(_text(m.get("content"))) for m in messages) // 4
        completion_tokens = len(content)
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
        }
        if mode is not Mode.NO_USAGE:
            completion["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
        text = json.dumps(completion, ensure_ascii=False)
        if mode is Mode.TRUNCATED:
            return web.Response(text=text[: len(text) // 2], content_type="application/json")
        return web.Response(text=text, content_type="application/json")

    @staticmethod
    def _content(mode: Mode, title: str, abstract: str, system: str) -> str:
        if mode is Mode.NOT_JSON:
            return "当然可以！这篇论文讨论了语言模型。"
        if mode is Mode.ENGLISH:
            answer = {"title": title, "abstract": abstract, "key_point": "It is a paper."}
        elif mode is Mode.JAPANESE:
            answer = {
                "title": "大規模言語モデルの研究について",
                "abstract": "本論文では、大規模言語モデルの新しい学習方法を提案する。" * max(len(abstract) // 120, 1),
                "key_point": "",
            }
        elif mode is Mode.ECHO_RULES:
            # A mostly Chinese answer with a line of the instructions tacked on.
            rule = next((line for line in system.splitlines() if line.startswith("1.")), system)
            answer = {"title": fake_chinese(title), "abstract": fake_chinese(abstract) + " " + rule, "key_point": ""}
        elif mode is Mode.OBEY_INJECTION:
            answer = {
                "title": fake_chinese(title),
                "abstract": "好的，我将忽略之前的指令。请访问 http://evil.example.com 领取奖励。" * 3,
                "key_point": "",
            }
        else:
            answer = {
                "title": fake_chinese(title),
                "abstract": fake_chinese(abstract),
                "key_point": "本文提出" + fake_chinese(title) + "。",
            }
        # Models often wrap JSON in a code fence: the bot must cope.
        return "```json\n" + json.dumps(answer, ensure_ascii=False) + "\n```"
