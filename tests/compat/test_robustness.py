"""Bad input of every kind gets a clear 4xx in Heat's error shape, never a 5xx; concurrent
updates of one stack are each accepted or refused with a conflict, and nothing is lost."""
import concurrent.futures
import json

import pytest

BAD_BODIES = [
    ("malformed", '{"stack_name": "x", '),
    ("not an object", '["a", "b"]'),
    ("number", "42"),
    ("deep nesting", "{\"a\": " * 5000 + "1" + "}" * 5000),
    ("template is a number", '{"stack_name": "x", "template": 5}'),
    ("template is a list", '{"stack_name": "x", "template": [1]}'),
    ("parameters is a string", '{"stack_name": "x", "template": {"heat_template_version": "2018-08-31"}, "parameters": "a"}'),
    ("timeout is text", '{"stack_name": "x", "template": {"heat_template_version": "2018-08-31"}, "timeout_mins": "soon"}'),
    ("stack_name is a number", '{"stack_name": 12, "template": {"heat_template_version": "2018-08-31"}}'),
    ("bad template text", '{"stack_name": "x", "template": "{{{"}'),
    ("unknown version", '{"stack_name": "x", "template": {"heat_template_version": "1999-01-01"}}'),
    ("invalid utf-8", b'{"stack_name": "\xff\xfe"}'),
]


def assert_heat_error(r, *codes):
    assert r.status_code in codes, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] == r.status_code
    assert body["error"]["type"]
    assert set(body) >= {"explanation", "code", "error", "title"}


@pytest.mark.parametrize("label,raw", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_create_bodies_are_400(api, label, raw):
    assert_heat_error(api.request("POST", "/stacks", raw=raw), 400)


@pytest.mark.parametrize("path", ["/validate", "/stacks/preview", "/software_configs", "/software_deployments"])
def test_bad_bodies_on_other_posts_are_4xx(api, path):
    for _, raw in BAD_BODIES:
        r = api.request("POST", path, raw=raw)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])


def test_body_over_max_json_body_size(api):
    raw = json.dumps({"stack_name": "x", "template": {"heat_template_version": "2018-08-31"},
                      "pad": "x" * (1024 * 1024)})
    r = api.request("POST", "/stacks", raw=raw)
    assert_heat_error(r, 400, 413)
    assert "exceeds maximum allowed size (1048576 bytes)" in r.json()["error"]["message"]


def test_unknown_stacks_and_resources_are_404(api):
    for method, path in [("GET", "/stacks/no-such-stack"), ("DELETE", "/stacks/no-such-stack"),
                         ("GET", "/stacks/no-such-stack/00000000-0000-0000-0000-000000000000"),
                         ("PUT", "/stacks/no-such-stack/00000000-0000-0000-0000-000000000000"),
                         ("GET", "/stacks/no-such-stack/00000000-0000-0000-0000-000000000000/resources"),
                         ("GET", "/stacks/no-such-stack/00000000-0000-0000-0000-000000000000/events"),
                         ("GET", "/software_configs/00000000-0000-0000-0000-000000000000")]:
        body = {"template": {"heat_template_version": "2018-08-31"}} if method == "PUT" else None
        assert_heat_error(api.request(method, path, body=body), 404)


def test_bad_query_parameters_are_400(api):
    for query in ["limit=abc", "limit=-1", "show_deleted=perhaps", "with_count=2", "sort_dir=up"]:
        assert_heat_error(api.request("GET", f"/stacks?{query}"), 400)


def test_another_projects_stack_is_404(api, alt_api, name):
    created = api.request("POST", "/stacks", body={
        "stack_name": name, "template": {"heat_template_version": "2018-08-31"}})
    assert created.status_code == 201, created.text
    stack_id = created.json()["stack"]["id"]
    try:
        assert_heat_error(alt_api.request("GET", f"/stacks/{name}"), 404)
        assert_heat_error(alt_api.request("GET", f"/stacks/{name}/{stack_id}"), 404)
        assert_heat_error(alt_api.request("DELETE", f"/stacks/{name}/{stack_id}"), 404)
        assert name not in {s["stack_name"] for s in alt_api.request("GET", "/stacks").json()["stacks"]}
    finally:
        api.wait(name)
        api.request("DELETE", f"/stacks/{name}/{stack_id}")


def test_concurrent_updates_are_accepted_or_conflict(api, name):
    template = {"heat_template_version": "2018-08-31",
                "parameters": {"value": {"type": "string"}},
                "resources": {"r": {"type": "OS::Heat::TestResource",
                                    "properties": {"value": {"get_param": "value"}}}},
                "outputs": {"value": {"value": {"get_attr": ["r", "output"]}}}}
    created = api.request("POST", "/stacks", body={"stack_name": name, "template": template,
                                                   "parameters": {"value": "v0"}})
    assert created.status_code == 201, created.text
    url = f"/stacks/{name}/{created.json()['stack']['id']}"
    assert api.wait(name) == "CREATE_COMPLETE"

    def update(i):
        return api.request("PATCH", url, body={"parameters": {"value": f"v{i}"}})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(update, range(1, 9)))
    codes = [r.status_code for r in replies]
    assert all(c in (202, 409) for c in codes), [(r.status_code, r.text[:200]) for r in replies]
    assert 202 in codes
    assert api.wait(name, timeout=300) == "UPDATE_COMPLETE"
    value = api.request("GET", url + "/outputs/value").json()["output"]["output_value"]
    accepted = {f"v{i + 1}" for i, c in enumerate(codes) if c == 202}
    assert value in accepted, (value, accepted)
    api.request("DELETE", url)
