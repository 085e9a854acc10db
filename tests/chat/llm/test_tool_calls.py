"""Tool calling through the real SDKs against the fake provider server: the tools offered
in each API's format, the calls the model streams (arguments in pieces) parsed whole into
``usage.tool_calls`` with one stop reason for every provider, and the model's calls and
their results sent back in each API's own shape."""

from __future__ import annotations

import pytest

from chat.llm.base import LLMRequest, Tool, ToolCall, ToolResult, Turn, Usage
from tests.fakes.llm_server import Behaviour, FakeToolCall

from .test_providers import APIS, _in_fresh_loop, _provider

ORDER_TOOL = Tool(
    name="order_lookup",
    description="Find an order by its number.",
    parameters={
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "items": {"type": "array"}},
        "required": ["order_id"],
    },
)
QUESTION = Turn("user", "Where is order 1042?")


@pytest.fixture
def llm(fake_llm_server):
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


def _ask(provider, turns: list[Turn], tools: tuple[Tool, ...] = (ORDER_TOOL,)):
    request = LLMRequest(system="S", turns=turns, model="", max_tokens=300, temperature=0.2, tools=tools)

    async def run():
        deltas, usage = [], Usage()
        async for delta in provider.stream(request, usage):
            deltas.append(delta)
        return deltas, usage

    return _in_fresh_loop(run)


@pytest.mark.parametrize("api", APIS)
def test_the_tools_are_offered_and_the_calls_arrive_whole(llm, api):
    arguments = {"order_id": "1042", "items": [1, {"sku": "A-7", "note": "gift \u2014 wrap"}]}
    llm.enqueue(
        Behaviour(
            chunks=["Let me ", "check. "],
            tool_calls=[
                FakeToolCall("order_lookup", arguments, id="call_1"),
                FakeToolCall("ping", id="call_2"),
            ],
        )
    )
    deltas, usage = _ask(_provider(api, llm), [QUESTION])
    assert deltas == ["Let me ", "check. "]
    assert usage.finished and usage.stop_reason == "tool_use"
    assert usage.tool_calls == [ToolCall("call_1", "order_lookup", arguments), ToolCall("call_2", "ping", {})]
    [sent] = llm.requests
    assert sent.tool_names == ["order_lookup"]
    offered = sent.body["tools"][0]
    schema = offered["input_schema"] if api == "anthropic" else offered["function"]["parameters"]
    assert schema == ORDER_TOOL.parameters


@pytest.mark.parametrize("api", APIS)
def test_a_call_without_text_before_it(llm, api):
    llm.enqueue(Behaviour(tool_calls=[FakeToolCall("order_lookup", {"order_id": "7"}, id="c")]))
    deltas, usage = _ask(_provider(api, llm), [QUESTION])
    assert deltas == [] and usage.tool_calls == [ToolCall("c", "order_lookup", {"order_id": "7"})]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("raw", "error"),
    [('{"order_id": "10', "not valid JSON"), ('["1042"]', "must be a JSON object")],
)
def test_arguments_that_are_not_a_json_object_are_kept_as_an_error(llm, api, raw, error):
    llm.enqueue(Behaviour(tool_calls=[FakeToolCall("order_lookup", raw_arguments=raw, id="c")]))
    _, usage = _ask(_provider(api, llm), [QUESTION])
    [call] = usage.tool_calls
    assert call.name == "order_lookup" and call.arguments == {} and error in call.arguments_error


@pytest.mark.parametrize("api", APIS)
def test_the_calls_and_their_results_go_back_in_the_api_s_own_shape(llm, api):
    call = ToolCall("call_9", "order_lookup", {"order_id": "1042"})
    failed = ToolCall("call_10", "order_lookup", {"order_id": "999"})
    turns = [
        QUESTION,
        Turn("assistant", "Let me check.", tool_calls=(call, failed)),
        Turn(
            "user",
            "",
            tool_results=(
                ToolResult("call_9", '{"status": "shipped"}'),
                ToolResult("call_10", "No such order.", is_error=True),
            ),
        ),
    ]
    llm.enqueue(Behaviour(chunks=["It ", "shipped."]))
    deltas, usage = _ask(_provider(api, llm), turns)
    assert deltas == ["It ", "shipped."] and usage.stop_reason == "end_turn" and usage.tool_calls == []
    [sent] = llm.requests
    messages = sent.body["messages"]
    if api == "anthropic":
        assert messages[1] == {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_9", "name": "order_lookup", "input": {"order_id": "1042"}},
                {"type": "tool_use", "id": "call_10", "name": "order_lookup", "input": {"order_id": "999"}},
            ],
        }
        assert sent.tool_results == [
            {"call_id": "call_9", "content": '{"status": "shipped"}', "is_error": False},
            {"call_id": "call_10", "content": "No such order.", "is_error": True},
        ]
        assert len(messages) == 3  # the results are the user turn, with no empty text block
    else:
        assistant = messages[2]  # after the system message and the question
        assert assistant["role"] == "assistant" and assistant["content"] == "Let me check."
        assert [
            (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in assistant["tool_calls"]
        ] == [
            ("call_9", "order_lookup", '{"order_id": "1042"}'),
            ("call_10", "order_lookup", '{"order_id": "999"}'),
        ]
        assert [m["role"] for m in messages[3:]] == ["tool", "tool"]
        assert sent.tool_results == [
            {"call_id": "call_9", "content": '{"status": "shipped"}', "is_error": None},
            {"call_id": "call_10", "content": "Error: No such order.", "is_error": None},
        ]


@pytest.mark.parametrize("api", APIS)
def test_without_tools_nothing_is_offered_and_the_stop_reason_is_said(llm, api):
    llm.enqueue(Behaviour(chunks=["a ", "b ", "c ", "d "]))
    _, usage = _ask(_provider(api, llm), [QUESTION], tools=())
    assert usage.stop_reason == "end_turn" and "tools" not in llm.requests[-1].body
    llm.enqueue(Behaviour(chunks=["a "] * 400))
    _, usage = _ask(_provider(api, llm), [QUESTION], tools=())
    assert usage.stop_reason == "max_tokens"
