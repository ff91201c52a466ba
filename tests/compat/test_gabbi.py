"""heat-tempest-plugin's HTTP-level API tests (gabbits/, copied with its licence), run by gabbi
against the server under test, as heat-tempest-plugin's test_heat_api does.

gabbi's own pytest plugin does not load with current pytest, so each YAML file is one pytest
test that runs the file's ordered cases with unittest and fails with every failing case listed.
"""
import os
import unittest
import uuid

import pytest
from gabbi import driver

import conftest
import gabbi_fixtures

GABBITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gabbits")
FILES = sorted(f[:-5] for f in os.listdir(GABBITS) if f.endswith(".yaml"))


@pytest.fixture(scope="module")
def endpoint():
    if conftest.AUTH == "keystone":
        _, project = conftest.keystone_token(os.environ["OS_USERNAME"], os.environ["OS_PASSWORD"],
                                             os.environ["OS_PROJECT_NAME"])
    else:
        project = os.environ.get("EMBER_TENANT") or uuid.uuid4().hex
    os.environ["PREFIX"] = "api-" + uuid.uuid4().hex[:8]
    return f"{conftest.URL}/v1/{project}"


@pytest.mark.parametrize("gabbit", FILES)
def test_gabbit(endpoint, gabbit, tmp_path):
    only = tmp_path / gabbit
    only.mkdir()
    (only / f"{gabbit}.yaml").write_text(open(os.path.join(GABBITS, f"{gabbit}.yaml")).read())
    suite = driver.build_tests(str(only), unittest.TestLoader(), url=endpoint,
                               fixture_module=gabbi_fixtures, test_loader_name=f"gabbi_{gabbit}")
    result = unittest.TextTestRunner(verbosity=0, stream=open(os.devnull, "w")).run(suite)
    problems = [f"{case.id()}: {trace.strip().splitlines()[-1]}" for case, trace in result.failures + result.errors]
    print(f"{gabbit}: {result.testsRun - len(problems)}/{result.testsRun} gabbi cases passed")
    assert not problems, "\n".join(problems)
