import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.training.samples import SCHEMA
from training.teacher import label_with_teacher, openai_teacher, parse_label


def test_labels_are_kept_only_when_valid() -> None:
    answers: dict[str, Any] = {
        "in Oslo": '{"city": "Oslo", "unit": "celsius"}',
        "in Lima": {"city": "Lima", "unit": "kelvin"},
        "fenced": '```json\n{"city": null, "unit": "kelvin"}\n```',
        "prose": "The city is Oslo.",
        "invalid": '{"city": "Oslo", "unit": "rankine"}',
    }

    def generate(text: str) -> Any:
        if text == "boom":
            raise TimeoutError("teacher down")
        return answers[text]

    accepted, rejected = label_with_teacher([*answers, "boom"], generate=generate, schema=SCHEMA)
    assert [(p.input, p.output, p.source) for p in accepted] == [
        ("in Oslo", {"city": "Oslo", "unit": "celsius"}, "teacher"),
        ("in Lima", {"city": "Lima", "unit": "kelvin"}, "teacher"),
        ("fenced", {"city": None, "unit": "kelvin"}, "teacher"),
    ]
    assert rejected == Counter(not_json=1, schema_invalid=1, generate_error=1)


def test_two_samples_must_agree() -> None:
    calls: Counter[str] = Counter()

    def sampling(text: str) -> str:
        calls[text] += 1
        if text == "unsure" and calls[text] == 2:
            return '{"city": "Lima", "unit": "celsius"}'
        return '{"unit": "celsius", "city": "Oslo"}'  # same JSON, other key order

    accepted, rejected = label_with_teacher(
        ["sure", "unsure"], generate=sampling, schema=SCHEMA, agree_samples=2
    )
    assert [p.input for p in accepted] == ["sure"]
    assert rejected == Counter(disagree=1)
    assert calls == Counter(sure=2, unsure=2)
    with pytest.raises(ValueError, match="agree_samples must be 1 or 2"):
        label_with_teacher([], generate=sampling, schema=SCHEMA, agree_samples=3)


def test_parse_label() -> None:
    assert parse_label("```\n[1, 2]\n```") == [1, 2]
    assert parse_label({"a": 1}) == {"a": 1}
    with pytest.raises(ValueError, match="Extra data"):
        parse_label('{"a": 1} trailing')


class _Stub(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        text = body["messages"][-1]["content"]
        content = json.dumps({"city": text.split()[-1], "unit": "celsius"})
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_teacher_against_a_local_stub(stub_url: str) -> None:
    generate = openai_teacher(stub_url, "teacher-model", "sk-test", schema=SCHEMA)
    try:
        accepted, rejected = label_with_teacher(
            ["weather in Oslo", "weather in Lima"], generate=generate, schema=SCHEMA
        )
    finally:
        generate.close()  # type: ignore[attr-defined]
    assert [p.output for p in accepted] == [
        {"city": "Oslo", "unit": "celsius"},
        {"city": "Lima", "unit": "celsius"},
    ]
    assert rejected == Counter()
    first = _Stub.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "teacher-model"
    assert first["body"]["temperature"] == 0.0
    assert first["body"]["response_format"]["json_schema"]["schema"] == SCHEMA
    roles = [m["role"] for m in first["body"]["messages"]]
    assert roles == ["system", "user"]
    assert first["body"]["messages"][1]["content"] == "weather in Oslo"
