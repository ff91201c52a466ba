"""Fuzz every operation of the served OpenAPI description (schemathesis): whatever the
generated path, query and body, the server answers without a 5xx."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

import conftest

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "25"))
schema = schemathesis.from_pytest_fixture("openapi_schema")


SPEC = os.path.join(conftest.HERE, "..", "..", "crates", "api", "openapi.json")


@pytest.fixture(scope="module")
def openapi_schema():
    # The file ember serves at /openapi.json; read from the tree so other servers (Heat) can be
    # fuzzed the same way.
    return schemathesis.from_path(SPEC, base_url=conftest.URL)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_errors(case, api):
    response = case.call(headers=api.headers(), allow_redirects=False, timeout=60)
    case.validate_response(response, checks=(not_a_server_error,))
