from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=100_000)
    version: int | None = Field(default=None, ge=1)
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
    decoding: str
    attempts: list[AttemptPublic]
    latency_ms: float
    usage: UsagePublic
    model_config = ConfigDict(populate_by_name=True)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class JsonSchemaFormat(BaseModel):
    name: str = Field(default="response", max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None
    model_config = ConfigDict(populate_by_name=True)


class ResponseFormat(BaseModel):
    type: Literal["json_schema", "json_object", "text"]
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    response_format: ResponseFormat | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = Field(default=None, ge=0, le=2**31)
    n: int = Field(default=1, ge=1, le=1)
    stream: bool = False
