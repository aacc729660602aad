"""Schemathesis against the app's own OpenAPI, signed in with a real key.

Every operation gets valid and invalid parameters and bodies, deterministically (the same cases
every run). Each operation is fuzzed twice: with generated path parameters (mostly 404s) and
aimed at the objects that exist (the registered schema, its example, its job), so the fuzz
reaches the rules behind the 404s too.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fuzz.conftest import NAME, Fuzzed, assert_well_formed

EXAMPLES = 25  # per operation, mode and aim: ~2 min for the whole API on 2 cores
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # A failure is reported as found: shrinking would multiply the runtime.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def stored_objects(operation, fuzzed: Fuzzed) -> dict[str, object]:
    """Path parameters that name objects alice owns."""
    names = {p.name for p in operation.path_parameters}
    aimed: dict[str, object] = {}
    if "name" in names:
        aimed["name"] = NAME
    if "id" in names:
        path = operation.path
        kinds = {"schema-ids": "schema_id", "examples": "example_id"}
        aimed["id"] = fuzzed.ids[next((v for k, v in kinds.items() if k in path), "job_id")]
    if "version" in names:
        aimed["version"] = 1
    return aimed


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error(fuzzed: Fuzzed, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)
    headers = {"Authorization": f"Bearer {fuzzed.alice.key}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last: aimed at the stored schema, they would leave the rest nothing to reach.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        aimed = stored_objects(operation, fuzzed)
        for path_parameters in [None, aimed] if aimed else [None]:
            strategy = operation.as_strategy(mode, path_parameters=path_parameters)

            @given(case=strategy)
            @FUZZ
            def call(case):
                response = case.call(headers={**(case.headers or {}), **headers})
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                assert_well_formed(
                    response.status_code, body, f"{case.method} {case.formatted_path}"
                )

            try:
                call()
            except Unsatisfiable:
                pass  # nothing to make invalid: the operation takes no input in this mode
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
