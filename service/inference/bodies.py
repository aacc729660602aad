from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.bodies import Id


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=100_000)
    version: Id | None = None
    mode: Literal["auto", "constrained", "unconstrained"] = "auto"
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = Field(default=None, ge=0, le=2**31)


class SchemaRef(BaseModel):
    name: str
    version: int
    id: int


class AttemptPublic(BaseModel):
    decoding: str
    valid: bool
    errors: list[dict[str, Any]]
    finish_reason: str | None


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class GeneratePublic(BaseModel):
    output: Any
    valid: bool
    errors: list[dict[str, Any]]
    schema_: SchemaRef | None = Field(alias="schema")
    adapter: int | None
    # Set when the active adapter could not answer and the base model did: {adapter, reason}
    # with reason "stale" (trained for another base model) or "refused".
    fallback: dict[str, Any] | None = None
    decoding: str
    attempts: list[AttemptPublic]
    latency_ms: float
    usage: UsagePublic
    model_config = ConfigDict(populate_by_name=True)


class ToolCallFunction(BaseModel):
    name: str = Field(max_length=200)
    arguments: str = Field(default="", max_length=100_000)


class ToolCall(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = Field(default=None, max_length=200)
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=16)
    tool_call_id: str | None = Field(default=None, max_length=200)
    refusal: str | None = None


class JsonSchemaFormat(BaseModel):
    name: str = Field(default="response", max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None
    model_config = ConfigDict(populate_by_name=True)


class ResponseFormat(BaseModel):
    type: Literal["json_schema", "json_object", "text"]
    json_schema: JsonSchemaFormat | None = None


class FunctionTool(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    type: str
    function: FunctionTool | None = None


class NamedFunction(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class NamedToolChoice(BaseModel):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(BaseModel):
    include_usage: bool = False
    include_obfuscation: bool | None = None  # padding against a side channel: nothing to pad


# OpenAI parameters that change the answer, with the values that leave it as Formwright gives
# it: a request may send them at those values (clients do), any other value is refused (422)
# rather than ignored.
NEUTRAL_PARAMETERS: dict[str, tuple[Any, ...]] = {
    "stop": (None, [], ""),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "logit_bias": (None, {}),
    "frequency_penalty": (None, 0),
    "presence_penalty": (None, 0),
    "top_p": (None, 1),
    "functions": (None, []),
    "function_call": (None, "none"),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
    "web_search_options": (None,),
    "reasoning_effort": (None,),
    "verbosity": (None,),
}


class ChatCompletionBody(BaseModel):
    """An OpenAI chat completion request. Unknown fields are refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = Field(default=None, max_length=64)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = Field(default=None, ge=0, le=2**31)
    n: int = Field(default=1, ge=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # Accepted and without effect on the answer (bookkeeping on OpenAI's side).
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    # Changing the answer: accepted only at their neutral values (NEUTRAL_PARAMETERS).
    stop: str | list[str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    top_p: float | None = None
    functions: list[Any] | None = None
    function_call: Any = None
    audio: Any = None
    modalities: list[str] | None = None
    prediction: Any = None
    web_search_options: Any = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
