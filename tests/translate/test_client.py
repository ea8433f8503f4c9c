"""The client against the fake OpenAI-compatible server: the wire format and every failure mode."""

from __future__ import annotations

import json

import pytest

from bot.translate.client import ChatClient, FailureKind, ModelError
from bot.translate.glossary import Glossary
from bot.translate.prompt import build_messages
from bot.translate.validate import Rejected, parse, validate
from tests.conftest import ROOT
from tests.translate.fake_llm import FakeModel, Mode
from tests.translate.helpers import ABSTRACTS, INJECTED

TITLE = "Grounded Answers for Rare Entities with Retrieval"
GLOSSARY = Glossary.load(ROOT / "config" / "glossary.toml")


def client(fake: FakeModel, timeout: float = 5.0) -> ChatClient:
    return ChatClient(fake.base_url, "fake-translator", fake.api_key, timeout=timeout)


async def test_request_is_a_chat_completion_with_the_paper_as_data(fake: FakeModel) -> None:
    chat = client(fake)
    completion = await chat.complete(build_messages(TITLE, ABSTRACTS[0], GLOSSARY))
    await chat.close()
    [body] = fake.requests
    assert body["model"] == "fake-translator"
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    # The paper is JSON data in the user message; the instructions are only in the system message.
    assert json.loads(user["content"]) == {"title": TITLE, "abstract": ABSTRACTS[0]}
    assert "retrieval-augmented generation: 檢索增強生成" in system["content"]
    assert "LoRA" in system["content"] and "LLM" in system["content"]
    assert fake.headers[0]["Authorization"] == f"Bearer {fake.api_key}"
    assert completion.tokens.prompt > 0 and completion.tokens.completion > 0 and not completion.estimated


async def test_a_good_answer_validates_in_traditional_script(fake: FakeModel) -> None:
    chat = client(fake)
    completion = await chat.complete(build_messages(TITLE, ABSTRACTS[0], GLOSSARY))
    await chat.close()
    text = validate(TITLE, ABSTRACTS[0], parse(completion.content), completion.model)
    # The fake answers in simplified characters; what is stored is traditional.
    assert text.abstract_zh and "语" not in text.abstract_zh + text.title_zh
    assert "LLM" in text.abstract_zh and "LoRA" in text.abstract_zh and "41%" in text.abstract_zh
    assert text.key_point.startswith("本文提出")
    assert text.model == "fake-translator"


async def test_usage_missing_is_estimated(fake: FakeModel) -> None:
    chat = client(fake)
    completion = await chat.complete(build_messages(TITLE, ABSTRACTS[1], GLOSSARY))
    fake.then(Mode.NO_USAGE)
    estimated = await chat.complete(build_messages(TITLE, ABSTRACTS[1], GLOSSARY))
    await chat.close()
    assert estimated.estimated and estimated.tokens.total > 0
    # Within a factor of three of what the server reported for the same request.
    assert completion.tokens.total / 3 < estimated.tokens.total < completion.tokens.total * 3


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (Mode.RATE_LIMITED, FailureKind.RATE_LIMITED),
        (Mode.SERVER_ERROR, FailureKind.SERVER),
        (Mode.HANG, FailureKind.TIMEOUT),
        (Mode.NOT_A_COMPLETION, FailureKind.MALFORMED),
        (Mode.TRUNCATED, FailureKind.MALFORMED),
    ],
)
async def test_transport_failures_become_model_errors(fake: FakeModel, mode: Mode, kind: FailureKind) -> None:
    # A short timeout only where it must fire: a loaded machine can be slow to answer the rest.
    chat = client(fake, timeout=0.2 if mode is Mode.HANG else 5.0)
    fake.then(mode)
    with pytest.raises(ModelError) as caught:
        await chat.complete(build_messages(TITLE, ABSTRACTS[0], GLOSSARY))
    await chat.close()
    assert caught.value.kind is kind
    assert len(fake.requests) == 1, "the client must not retry by itself"
    if mode is Mode.RATE_LIMITED:
        assert caught.value.retry_after == 2.0


async def test_wrong_key_is_a_request_error(fake: FakeModel) -> None:
    chat = ChatClient(fake.base_url, "fake-translator", "sk-wrong-key-000000000", timeout=5.0)
    with pytest.raises(ModelError) as caught:
        await chat.complete(build_messages(TITLE, ABSTRACTS[0], GLOSSARY))
    await chat.close()
    assert caught.value.kind is FailureKind.REQUEST and "401" in str(caught.value)
    assert "sk-wrong-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (Mode.NOT_JSON, "no JSON object"),
        (Mode.ENGLISH, "not mostly Chinese"),
        (Mode.JAPANESE, "not Chinese"),
        (Mode.ECHO_RULES, "repeats the instructions"),
    ],
)
async def test_bad_answers_are_rejected(fake: FakeModel, mode: Mode, reason: str) -> None:
    chat = client(fake)
    fake.then(mode)
    completion = await chat.complete(build_messages(TITLE, ABSTRACTS[2], GLOSSARY))
    await chat.close()
    with pytest.raises(Rejected, match=reason):
        validate(TITLE, ABSTRACTS[2], parse(completion.content))


async def test_an_injected_instruction_is_translated_or_rejected(fake: FakeModel) -> None:
    chat = client(fake)
    faithful = await chat.complete(build_messages(TITLE, INJECTED, GLOSSARY))
    fake.then(Mode.OBEY_INJECTION)
    obeyed = await chat.complete(build_messages(TITLE, INJECTED, GLOSSARY))
    await chat.close()
    # The instruction reached the model only as data inside the user message.
    assert "Ignore all previous instructions" not in fake.requests[0]["messages"][0]["content"]
    assert "Ignore all previous instructions" in fake.requests[0]["messages"][1]["content"]
    text = validate(TITLE, INJECTED, parse(faithful.content))
    assert text.abstract_zh
    with pytest.raises(Rejected):
        validate(TITLE, INJECTED, parse(obeyed.content))
