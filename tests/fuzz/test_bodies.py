"""Hypothesis strategies for the JSON bodies of registration, examples and generation.

OpenAPI cannot describe these bodies fully (examples take a JSON list, JSONL or a file; schemas
are JSON Schemas), so they get their own strategies: near-valid bodies with hostile values in
every slot, raw text that is almost JSON, and each body in every framing the endpoint reads.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import NAME, Fuzzed, assert_well_formed

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

huge_ints = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)])
ints = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), huge_ints)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "\u2028", "\u0085", "\ufeff", "١٢", "\x00", "fz@١", "fz@99999999999999999999"]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=20,
)


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# Hostile shapes no small recursive strategy reaches: very deep (as values up to what json.dumps
# itself can write; as raw text far deeper), and numbers JSON does not have.
deep = st.integers(min_value=100, max_value=600).map(nested)
deep_text = st.integers(min_value=100, max_value=100_000).map(lambda d: "[" * d + "]" * d)
raw_constants = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])

schemas = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["object", "string", "integer", "array", "nope"])},
        optional={
            "properties": st.dictionaries(texts, json_values, max_size=3),
            "required": st.lists(texts, max_size=3),
            "maxLength": ints,
            "minimum": ints,
            "enum": st.lists(json_values, max_size=3),
            "$ref": st.sampled_from(["#", "#/definitions/x", "http://example.com/s", "#/$defs/a"]),
            "pattern": st.sampled_from(["(a+)+$", "[", "^\\d+$"]),
        },
    ),
    deep,
)


def with_hole(body: dict, value: str) -> str:
    """The body as JSON text with a raw token (e.g. NaN) in place of one value."""
    return json.dumps({**body, "__hole__": 0}).replace('"__hole__": 0', f'"x": {value}')


def post(fuzzed: Fuzzed, path: str, content: str | bytes, content_type: str = "application/json"):
    r = fuzzed.alice.post(path, content=content, headers={"Content-Type": content_type})
    try:
        body = r.json()
    except ValueError:
        body = r.text
    assert_well_formed(r.status_code, body, f"POST {path} {content[:200]!r}")
    return r


@given(name=texts, schema=schemas, description=st.one_of(st.none(), texts, ints))
@FUZZ
def test_registration_bodies(fuzzed: Fuzzed, name, schema, description):
    body = {"name": name, "schema": schema, "description": description}
    post(fuzzed, "/v1/schemas", json.dumps(body))
    post(fuzzed, f"/v1/schemas/{NAME}/compatibility", json.dumps({"schema": schema}))


@given(data=st.data())
@FUZZ
def test_registration_bodies_with_raw_tokens(fuzzed: Fuzzed, data):
    token = data.draw(st.one_of(raw_constants, deep_text))
    post(fuzzed, "/v1/schemas", with_hole({"name": "raw", "schema": {"type": "object"}}, token))
    post(fuzzed, "/v1/schemas", "\ufeff" + json.dumps({"name": "bom", "schema": {}}))


example_rows = st.one_of(
    st.fixed_dictionaries(
        {"input": texts}, optional={"output": st.one_of(json_values, deep), "extra": scalars}
    ),
    json_values,
)


@given(
    rows=st.lists(example_rows, max_size=5), token=raw_constants, version=st.one_of(st.none(), ints)
)
@FUZZ
def test_example_bodies_in_every_framing(fuzzed: Fuzzed, rows, token, version):
    path = f"/v1/schemas/{NAME}/examples" + ("" if version is None else f"?version={version}")
    post(fuzzed, path, json.dumps(rows))
    post(fuzzed, path, json.dumps(rows[0] if rows else {}))
    jsonl = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    post(fuzzed, path, jsonl, "application/x-ndjson")
    post(fuzzed, path, "\ufeff" + jsonl.replace("\n", "\r\n"), "application/jsonl")
    post(fuzzed, path, with_hole({"input": "a"}, token) + "\n" + jsonl, "application/x-ndjson")
    r = fuzzed.alice.post(path, files={"file": ("rows.jsonl", jsonl.encode(), "text/plain")})
    assert_well_formed(r.status_code, r.json(), f"upload {jsonl[:200]!r}")
    listing = fuzzed.alice.get(f"/v1/schemas/{NAME}/examples", params={"limit": 200})
    assert listing.status_code == 200, listing.text


@given(data=st.data())
@FUZZ
def test_generation_bodies(fuzzed: Fuzzed, data):
    body = data.draw(
        st.fixed_dictionaries(
            {"input": st.one_of(texts, json_values)},
            optional={
                "version": st.one_of(ints, texts),
                "mode": st.one_of(st.sampled_from(["auto", "constrained", "x"]), scalars),
                "max_tokens": ints,
                "temperature": st.one_of(st.floats(allow_nan=False), ints),
                "seed": ints,
            },
        )
    )
    post(fuzzed, f"/v1/schemas/{NAME}/generate", json.dumps(body))
    content = st.one_of(
        texts,
        st.none(),
        st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["text", "image_url", "x"])}, optional={"text": scalars}
            ),
            max_size=3,
        ),
        json_values,
    )
    chat = data.draw(
        st.fixed_dictionaries(
            {
                "model": st.one_of(
                    st.sampled_from([NAME, f"{NAME}@1", f"{NAME}@١", f"{NAME}@{2**64}", "x@"]),
                    texts,
                ),
                "messages": st.lists(
                    st.fixed_dictionaries(
                        {"role": st.sampled_from(["user", "system", "bot"]), "content": content}
                    ),
                    max_size=3,
                ),
            },
            optional={
                "response_format": st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(["json_schema", "json_object", "text"]),
                            "json_schema": st.fixed_dictionaries(
                                {"name": texts, "schema": schemas}
                            ),
                        }
                    ),
                ),
                "max_tokens": ints,
                "seed": ints,
                "temperature": st.floats(allow_nan=False),
            },
        )
    )
    post(fuzzed, "/v1/chat/completions", json.dumps(chat))
