#!/usr/bin/env python3
"""Record real Heat's answers to the API requests Ember must answer the same way.

Run against heat-peer (../shared/heat-peer) with its env.sh sourced:
    HEAT_URL=http://127.0.0.1:8014 python record.py
or against `ember serve --auth none` into another directory, then compare:
    HEAT_URL=http://127.0.0.1:18004 SAMPLES_AUTH=none SAMPLES_OUT=/tmp/ember python record.py
    python compare.py /tmp/ember
Writes one JSON file per case (next to this script unless SAMPLES_OUT is set): the request, the status, the headers that
matter (Location, Allow, Content-Type) and the body. Ids and hosts are kept as measured; the Rust
tests compare statuses, error types and key sets, not ids.
"""
import json
import os
import sys
import time

import requests

HERE = os.environ.get("SAMPLES_OUT") or os.path.dirname(os.path.abspath(__file__))
os.makedirs(HERE, exist_ok=True)
HEAT = os.environ.get("HEAT_URL", "http://127.0.0.1:8014")


def token(user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    r = requests.post(os.environ["OS_AUTH_URL"] + "/auth/tokens", json=body)
    r.raise_for_status()
    return r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]


if os.environ.get("SAMPLES_AUTH") == "none":
    TOK, TENANT = None, "0123456789abcdef0123456789abcdef"
else:
    TOK, TENANT = token(os.environ["OS_USERNAME"], os.environ["OS_PASSWORD"], os.environ["OS_PROJECT_NAME"])
V1 = f"{HEAT}/v1/{TENANT}"
KEPT_HEADERS = ("location", "allow", "content-type")


def call(case, method, path, body=None, raw=None, headers=None, token=TOK, base=V1, record=True):
    hdrs = {"Accept": "application/json"}
    if token:
        hdrs["X-Auth-Token"] = token
    if body is not None or raw is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    r = requests.request(method, base + path, data=data, headers=hdrs, allow_redirects=False)
    try:
        rbody = r.json()
    except ValueError:
        rbody = r.text
    sample = {
        "request": {"method": method, "path": (base + path).replace(HEAT, ""),
                    "body": body if raw is None else (raw if len(raw) < 2000 else f"<{len(raw)} bytes>")},
        "status": r.status_code,
        "headers": {k: v for k, v in r.headers.items() if k.lower() in KEPT_HEADERS},
        "body": rbody,
    }
    if record:
        with open(os.path.join(HERE, case + ".json"), "w") as f:
            json.dump(sample, f, indent=1, sort_keys=True)
            f.write("\n")
    print(f"{case}: {method} {path} -> {r.status_code}", file=sys.stderr)
    return r


def wait_status(path, want, tries=60):
    for _ in range(tries):
        r = call("_poll", "GET", path, record=False)
        if r.status_code == 200 and r.json()["stack"]["stack_status"] in want:
            return r.json()["stack"]["stack_status"]
        time.sleep(1)
    raise SystemExit(f"{path} never reached {want}")


TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "description": "sample",
    "parameters": {"len": {"type": "number", "default": 8},
                   "secret": {"type": "string", "hidden": True, "default": "s3cret"}},
    "resources": {"rs": {"type": "OS::Heat::RandomString", "properties": {"length": {"get_param": "len"}}},
                  "none": {"type": "OS::Heat::None"}},
    "outputs": {"r": {"value": {"get_attr": ["rs", "value"]}, "description": "the string"}},
}

call("versions", "GET", "/", base=HEAT, token=None)
call("versions_v2", "GET", "/v2/x/stacks", base=HEAT, token=None)
call("no_token", "GET", "/stacks", token=None)
call("bad_token", "GET", "/stacks", token="gAAAAABnot-a-token")
call("other_tenant_in_url", "GET", "/stacks", base=f"{HEAT}/v1/00000000000000000000000000000000")
call("unknown_path", "GET", "/nothing-here")
call("stack_list_empty", "GET", "/stacks")
call("stacks_options", "OPTIONS", "/stacks")
call("stacks_delete_405", "DELETE", "/stacks")
call("stack_show_options", "OPTIONS", "/stacks/a/b")
call("create_malformed_json", "POST", "/stacks", raw='{"stack_name": "x", ')
call("create_not_object", "POST", "/stacks", raw='["a"]')
call("create_no_name", "POST", "/stacks", body={"template": TEMPLATE})
call("create_no_template", "POST", "/stacks", body={"stack_name": "x"})
call("create_template_wrong_type", "POST", "/stacks", body={"stack_name": "x", "template": 5})
call("create_bad_template_string", "POST", "/stacks", body={"stack_name": "x", "template": "{{{"})
call("create_invalid_template", "POST", "/stacks",
     body={"stack_name": "x", "template": {"heat_template_version": "2018-08-31",
                                           "resources": {"a": {"type": "OS::No::Such"}}}})
call("create_unknown_param", "POST", "/stacks",
     body={"stack_name": "x", "template": TEMPLATE, "parameters": {"nope": 1}})
call("create_timeout_wrong_type", "POST", "/stacks",
     body={"stack_name": "x", "template": TEMPLATE, "timeout_mins": "abc"})
call("create_huge_body", "POST", "/stacks",
     raw=json.dumps({"stack_name": "x", "template": TEMPLATE, "pad": "x" * (1024 * 1024 + 10)}))
call("list_bad_limit", "GET", "/stacks?limit=abc")
call("list_bad_bool", "GET", "/stacks?show_deleted=maybe")
call("list_bad_sort_dir", "GET", "/stacks?sort_dir=sideways")

r = call("create", "POST", "/stacks",
         body={"stack_name": "sample", "template": TEMPLATE, "parameters": {"len": 10},
               "disable_rollback": True, "tags": "a,b"})
sid = r.json()["stack"]["id"]
S = f"/stacks/sample/{sid}"
call("create_duplicate", "POST", "/stacks", body={"stack_name": "sample", "template": TEMPLATE})
call("lookup_redirect", "GET", "/stacks/sample")
call("lookup_redirect_by_id", "GET", f"/stacks/{sid}")
call("lookup_redirect_subpath", "GET", "/stacks/sample/resources?nested_depth=1")
call("lookup_redirect_delete", "DELETE", "/stacks/sample-missing")
call("lookup_redirect_post_actions", "POST", "/stacks/sample/actions", body={"check": None})
wait_status(S, ("CREATE_COMPLETE", "CREATE_FAILED"))
call("show", "GET", S)
call("show_wrong_id", "GET", "/stacks/sample/00000000-0000-0000-0000-000000000000")
call("show_wrong_name", "GET", f"/stacks/other/{sid}")
call("show_bad_resolve_outputs", "GET", S + "?resolve_outputs=perhaps")
call("lookup_missing", "GET", "/stacks/missing")
call("list", "GET", "/stacks")
call("list_limit", "GET", "/stacks?limit=1")
call("list_with_count", "GET", "/stacks?with_count=true")
call("detail", "GET", "/stacks/detail")
call("template", "GET", S + "/template")
call("environment", "GET", S + "/environment")
call("files", "GET", S + "/files")
call("outputs", "GET", S + "/outputs")
call("output_show", "GET", S + "/outputs/r")
call("output_missing", "GET", S + "/outputs/nope")
call("resources", "GET", S + "/resources")
call("resources_detail", "GET", S + "/resources?with_detail=true")
call("resources_bad_depth", "GET", S + "/resources?nested_depth=x")
call("resource_show", "GET", S + "/resources/rs")
call("resource_missing", "GET", S + "/resources/nope")
call("resource_metadata", "GET", S + "/resources/rs/metadata")
call("resource_signal_unsupported", "POST", S + "/resources/rs/signal")
call("events", "GET", S + "/events")
r = call("resource_events", "GET", S + "/resources/rs/events")
ev = r.json()["events"][0]["id"]
call("event_show", "GET", S + f"/resources/rs/events/{ev}")
call("event_missing", "GET", S + "/resources/rs/events/00000000-0000-0000-0000-000000000000")
call("events_bad_limit", "GET", S + "/events?limit=-1")
call("mark_unhealthy", "PATCH", S + "/resources/none",
     body={"mark_unhealthy": True, "resource_status_reason": "broken"})
call("mark_unhealthy_bad", "PATCH", S + "/resources/none", body={"mark_unhealthy": "perhaps"})
call("action_check", "POST", S + "/actions", body={"check": None})
wait_status(S, ("CHECK_COMPLETE", "CHECK_FAILED"))
call("action_unknown", "POST", S + "/actions", body={"explode": None})
call("action_two", "POST", S + "/actions", body={"suspend": None, "resume": None})
call("action_cancel_not_updating", "POST", S + "/actions", body={"cancel_update": None})
call("action_suspend", "POST", S + "/actions", body={"suspend": None})
wait_status(S, ("SUSPEND_COMPLETE", "SUSPEND_FAILED"))
call("action_resume", "POST", S + "/actions", body={"resume": None})
wait_status(S, ("RESUME_COMPLETE", "RESUME_FAILED"))
r = call("snapshot_create", "POST", S + "/snapshots", body={"name": "snap1"})
snap = r.json()["id"]
time.sleep(3)
call("snapshot_list", "GET", S + "/snapshots")
call("snapshot_show", "GET", S + f"/snapshots/{snap}")
call("snapshot_missing", "GET", S + "/snapshots/00000000-0000-0000-0000-000000000000")
call("snapshot_restore", "POST", S + f"/snapshots/{snap}/restore")
wait_status(S, ("RESTORE_COMPLETE", "RESTORE_FAILED"))
call("snapshot_delete", "DELETE", S + f"/snapshots/{snap}")
call("preview_update", "PUT", S + "/preview", body={"template": TEMPLATE, "parameters": {"len": 12}})
call("update_put", "PUT", S, body={"template": TEMPLATE, "parameters": {"len": 12}})
call("update_while_in_progress", "PATCH", S, body={"parameters": {"len": 13}})
wait_status(S, ("UPDATE_COMPLETE", "UPDATE_FAILED"))
call("update_patch", "PATCH", S, body={"parameters": {"len": 14}})
wait_status(S, ("UPDATE_COMPLETE", "UPDATE_FAILED"))
call("update_put_no_template", "PUT", S, body={"parameters": {"len": 15}})
call("export", "GET", S + "/export")
call("abandon_disabled", "DELETE", S + "/abandon")
call("preview_create", "POST", "/stacks/preview", body={"stack_name": "prev", "template": TEMPLATE})
call("validate", "POST", "/validate", body={"template": TEMPLATE})
call("validate_invalid", "POST", "/validate",
     body={"template": {"heat_template_version": "2018-08-31", "resources": {"a": {"type": "OS::No::Such"}}}})
call("validate_bad_version", "POST", "/validate", body={"template": {"heat_template_version": "2000-01-01"}})
call("resource_types", "GET", "/resource_types?name=OS::Heat::Random")
call("resource_type_show", "GET", "/resource_types/OS::Heat::RandomString")
call("resource_type_missing", "GET", "/resource_types/OS::No::Such")
call("resource_type_template", "GET", "/resource_types/OS::Heat::None/template?template_type=hot")
call("resource_type_template_bad", "GET", "/resource_types/OS::Heat::None/template?template_type=xml")
call("template_versions", "GET", "/template_versions")
call("template_functions", "GET", "/template_versions/2018-08-31/functions")
call("template_functions_missing", "GET", "/template_versions/nope/functions")
call("build_info", "GET", "/build_info")
call("services", "GET", "/services")
r = call("software_config_create", "POST", "/software_configs",
         body={"name": "cfg", "group": "script", "config": "#!/bin/sh\necho hi",
               "inputs": [{"name": "foo"}], "outputs": [], "options": {}})
cfg = r.json().get("software_config", {}).get("id", "00000000-0000-0000-0000-000000000001")
call("software_config_list", "GET", "/software_configs")
call("software_config_show", "GET", f"/software_configs/{cfg}")
call("software_config_missing", "GET", "/software_configs/00000000-0000-0000-0000-000000000000")
r = call("software_deployment_create", "POST", "/software_deployments",
         body={"config_id": cfg, "server_id": "srv-1", "action": "CREATE", "status": "IN_PROGRESS"})
dep = r.json().get("software_deployment", {}).get("id", "00000000-0000-0000-0000-000000000002")
call("software_deployment_list", "GET", "/software_deployments?server_id=srv-1")
call("software_deployment_show", "GET", f"/software_deployments/{dep}")
call("software_deployment_update", "PUT", f"/software_deployments/{dep}",
     body={"status": "COMPLETE", "status_reason": "done"})
call("software_deployment_metadata", "GET", "/software_deployments/metadata/srv-1")
call("software_deployment_delete", "DELETE", f"/software_deployments/{dep}")
call("software_config_delete", "DELETE", f"/software_configs/{cfg}")
call("delete", "DELETE", S)
call("delete_again", "DELETE", S)
wait_status(S + "?", ("DELETE_COMPLETE",)) if False else time.sleep(5)
call("show_deleted_stack", "GET", S)
call("list_show_deleted", "GET", "/stacks?show_deleted=true")
