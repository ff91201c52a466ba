"""Fixtures for the API compatibility suite: a running orchestration API (``ember serve``, or
any Heat for comparison) driven by the real ``openstack`` CLI, python-heatclient and requests.

Environment (``tests/compat/run`` sets it):
  EMBER_URL        root of the server, e.g. http://127.0.0.1:18004
  EMBER_AUTH       none | keystone
  EMBER_TENANT     project id in the URL for auth none (default: a fresh random id)
  OS_*             caller's credentials for auth keystone (e.g. the lab's demo user)
  EMBER_ALT_OS_USERNAME / _PASSWORD / _PROJECT_NAME   a second project (isolation tests)
"""
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

URL = os.environ.get("EMBER_URL", "http://127.0.0.1:8004").rstrip("/")
AUTH = os.environ.get("EMBER_AUTH", "none")
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")


def keystone_token(username, password, project):
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": username, "password": password,
            "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")}}}},
        "scope": {"project": {"name": project,
                              "domain": {"name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
    r = requests.post(os.environ["OS_AUTH_URL"].rstrip("/") + "/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]


class Api:
    """One caller of the API: its project, token and helpers for each client."""

    def __init__(self, tenant, token=None):
        self.tenant = tenant
        self.token = token
        self.v1 = f"{URL}/v1/{tenant}"

    # --- raw HTTP -------------------------------------------------------------------------
    def headers(self, extra=None):
        h = {"Accept": "application/json"}
        if self.token:
            h["X-Auth-Token"] = self.token
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, raw=None, headers=None, redirects=False, **kw):
        h = self.headers(headers)
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        url = path if path.startswith("http") else self.v1 + path
        return requests.request(method, url, data=data, headers=h, allow_redirects=redirects, timeout=60, **kw)

    # --- openstack CLI --------------------------------------------------------------------
    def osc(self, *args, check=True, fmt_json=True):
        # The server under test is named explicitly: with a Keystone session the CLI would
        # otherwise take the catalog's orchestration endpoint. The token is the caller's own.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        cmd = ["openstack", "--os-endpoint", self.v1]
        if self.token:
            cmd += ["--os-auth-type", "admin_token", "--os-token", self.token]
        else:
            cmd += ["--os-auth-type", "none"]
        cmd += list(args)
        if fmt_json:
            cmd += ["-f", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TEMPLATES, timeout=600)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        if fmt_json and p.returncode == 0 and p.stdout.strip():
            # `--wait` prints event lines before the JSON document.
            lines = p.stdout.splitlines()
            start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
            return json.loads("\n".join(lines[start:]))
        return p

    # --- python-heatclient ----------------------------------------------------------------
    def heatclient(self):
        from heatclient import client as heat_client
        return heat_client.Client("1", endpoint=self.v1, token=self.token or "none")

    # --- polling --------------------------------------------------------------------------
    def stack(self, name):
        r = self.request("GET", f"/stacks/{name}", redirects=True)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["stack"]

    def wait(self, name, *terminal, timeout=180):
        deadline = time.time() + timeout
        status = None
        while time.time() < deadline:
            status = self.stack(name)["stack_status"]
            if status in terminal or not status.endswith("IN_PROGRESS"):
                return status
            time.sleep(0.5)
        raise AssertionError(f"stack {name} still {status} after {timeout}s")


    def wait_gone(self, name, timeout=180):
        """Until a lookup by name is 404, as after a completed delete."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.request("GET", f"/stacks/{name}").status_code == 404:
                return
            time.sleep(0.5)
        raise AssertionError(f"stack {name} still found after {timeout}s")


@pytest.fixture(scope="session")
def api():
    if AUTH == "keystone":
        token, project = keystone_token(os.environ["OS_USERNAME"], os.environ["OS_PASSWORD"],
                                        os.environ["OS_PROJECT_NAME"])
        return Api(project, token)
    return Api(os.environ.get("EMBER_TENANT") or uuid.uuid4().hex)


@pytest.fixture(scope="session")
def alt_api():
    """A caller of another project."""
    if AUTH == "keystone":
        user = os.environ.get("EMBER_ALT_OS_USERNAME")
        if not user:
            pytest.skip("EMBER_ALT_OS_USERNAME not set: no second project to test isolation with")
        token, project = keystone_token(user, os.environ["EMBER_ALT_OS_PASSWORD"],
                                        os.environ["EMBER_ALT_OS_PROJECT_NAME"])
        return Api(project, token)
    return Api(uuid.uuid4().hex)


@pytest.fixture
def name(request):
    """A stack name unique to the test."""
    return f"compat-{request.node.name[:30].replace('_', '-')}-{uuid.uuid4().hex[:6]}"
