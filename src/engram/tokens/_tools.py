"""Token cost of tool (function) schemas, by OpenAI's published estimate.

This is `num_tokens_for_tools` from OpenAI's cookbook ("How to count tokens with tiktoken",
section 7), which OpenAI checked against the API's `prompt_tokens`. Each function costs
`func_init` plus the tokens of `"{name}:{description}"`; when it has properties, `prop_init`
plus, per property, `prop_key`, the tokens of `"{key}:{type}:{description}"` and, for an
`enum`, `enum_init` plus `enum_item` and the item's tokens per item; the list ends with
`func_end`. Descriptions lose one trailing period. Nested object schemas are not walked,
as in the cookbook: it is an estimate, not the exact rendering OpenAI uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engram._exceptions import InvalidInputError

__all__ = ["GPT_4O_TOOL_CONSTANTS", "GPT_4_TOOL_CONSTANTS", "ToolConstants", "tool_tokens"]


@dataclass(frozen=True, slots=True)
class ToolConstants:
    """The per-model constants of OpenAI's tool-schema token formula."""

    func_init: int
    """Tokens at the start of each function."""
    prop_init: int
    """Tokens at the start of a function's properties (when it has any)."""
    prop_key: int
    """Tokens per property."""
    enum_init: int
    """Tokens for a property having an enum (negative: the cookbook's adjustment)."""
    enum_item: int
    """Tokens per enum item, on top of the item's own tokens."""
    func_end: int
    """Tokens at the end of the function list."""


GPT_4O_TOOL_CONSTANTS = ToolConstants(
    func_init=7, prop_init=3, prop_key=3, enum_init=-3, enum_item=3, func_end=12
)
"""The cookbook's constants for `gpt-4o` and `gpt-4o-mini` (used for every o200k model)."""

GPT_4_TOOL_CONSTANTS = ToolConstants(
    func_init=10, prop_init=3, prop_key=3, enum_init=-3, enum_item=3, func_end=12
)
"""The cookbook's constants for `gpt-4` and `gpt-3.5-turbo` (used for every cl100k model)."""


def tool_tokens(
    tools: Sequence[Mapping[str, Any]], count: Callable[[str], int], constants: ToolConstants
) -> int:
    """Tokens the tool schemas add to a request (0 for no tools).

    Args:
        tools: Tools in the chat-completions form (`{"type": "function", "function": {...}}`)
            or the flat Responses form (`{"type": "function", "name": ..., ...}`).
        count: Counts a text's tokens.
        constants: The model's formula constants.

    Raises:
        InvalidInputError: a tool is not a mapping or has no function name.
    """
    if not tools:
        return 0
    total = sum(_function_tokens(_function_of(tool), count, constants) for tool in tools)
    return total + constants.func_end


def _function_of(tool: object) -> Mapping[str, Any]:
    if not isinstance(tool, Mapping):
        raise InvalidInputError(f"a tool must be a mapping, got {type(tool).__name__}")
    function = tool.get("function", tool)
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidInputError(f"a tool needs a function name: {tool!r}")
    return function


def _function_tokens(
    function: Mapping[str, Any], count: Callable[[str], int], constants: ToolConstants
) -> int:
    description = _without_period(function.get("description"))
    tokens = constants.func_init + count(f"{function['name']}:{description}")
    properties = _properties(function)
    if properties:
        tokens += constants.prop_init
        for key, schema in properties.items():
            tokens += constants.prop_key + _property_tokens(str(key), schema, count, constants)
    return tokens


def _properties(function: Mapping[str, Any]) -> Mapping[str, Any]:
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    return properties if isinstance(properties, Mapping) else {}


def _property_tokens(
    key: str, schema: object, count: Callable[[str], int], constants: ToolConstants
) -> int:
    if not isinstance(schema, Mapping):
        raise InvalidInputError(f"the schema of tool parameter {key!r} must be a mapping")
    tokens = 0
    if "enum" in schema:
        items = schema["enum"] or ()
        if isinstance(items, str | Mapping) or not isinstance(items, Sequence):
            raise InvalidInputError(f"the enum of tool parameter {key!r} must be a list")
        tokens += constants.enum_init
        for item in items:
            tokens += constants.enum_item + count(str(item))
    description = _without_period(schema.get("description"))
    return tokens + count(f"{key}:{schema.get('type', '')}:{description}")


def _without_period(description: object) -> str:
    text = "" if description is None else str(description)
    return text[:-1] if text.endswith(".") else text
