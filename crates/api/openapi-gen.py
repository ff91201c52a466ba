#!/usr/bin/env python3
"""Writes crates/api/openapi.json (OpenAPI 3.0) from the route table below, which mirrors
src/routes.rs; tests/routes.rs checks that every documented path is routed by the server.
Run after changing routes:  python3 crates/api/openapi-gen.py"""
import json
import os

S = {"type": "string"}
OBJ = {"type": "object"}
ERROR = {"description": "Heat error body", "content": {"application/json": {"schema": {
    "type": "object", "required": ["code", "title", "explanation", "error"],
    "properties": {"code": {"type": "integer"}, "title": S, "explanation": S,
                   "error": {"type": "object", "properties": {
                       "message": S, "type": S, "traceback": {"type": "string", "nullable": True}}}}}}}}
STACK_BODY = {"type": "object", "properties": {
    "stack_name": S, "template": {"oneOf": [OBJ, S]}, "template_url": S, "parameters": OBJ,
    "environment": {"oneOf": [OBJ, S]}, "files": OBJ, "environment_files": {"type": "array", "items": S},
    "timeout_mins": {"type": "integer", "minimum": 0}, "disable_rollback": {"type": "boolean"},
    "tags": S, "adopt_stack_data": {"oneOf": [OBJ, S]}, "clear_parameters": {"type": "array", "items": S},
    "converge": {"type": "boolean"}}}
BOOL_Q = {"type": "string", "enum": ["true", "false", "True", "False"]}
INT_Q = {"type": "integer", "minimum": 0}

# path → {method: (operationId, success status, query params {name: schema}, body schema or None)}
ROUTES = {
    "/v1/{tenant_id}/validate": {"post": ("validateTemplate", 200, {"show_nested": BOOL_Q, "ignore_errors": S}, STACK_BODY)},
    "/v1/{tenant_id}/resource_types": {"get": ("listResourceTypes", 200, {"name": S, "version": S, "support_status": S, "with_description": BOOL_Q}, None)},
    "/v1/{tenant_id}/resource_types/{type_name}": {"get": ("showResourceType", 200, {"with_description": BOOL_Q}, None)},
    "/v1/{tenant_id}/resource_types/{type_name}/template": {"get": ("resourceTypeTemplate", 200, {"template_type": {"type": "string", "enum": ["hot", "cfn"]}}, None)},
    "/v1/{tenant_id}/template_versions": {"get": ("listTemplateVersions", 200, {}, None)},
    "/v1/{tenant_id}/template_versions/{version}/functions": {"get": ("listTemplateFunctions", 200, {"with_condition_func": BOOL_Q}, None)},
    "/v1/{tenant_id}/stacks": {
        "get": ("listStacks", 200, {"limit": INT_Q, "marker": S, "sort_keys": S, "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
                                    "show_deleted": BOOL_Q, "show_nested": BOOL_Q, "show_hidden": BOOL_Q, "with_count": BOOL_Q,
                                    "tags": S, "tags_any": S, "not_tags": S, "not_tags_any": S, "name": S, "status": S, "id": S}, None),
        "post": ("createStack", 201, {}, STACK_BODY)},
    "/v1/{tenant_id}/stacks/preview": {"post": ("previewStack", 200, {}, STACK_BODY)},
    "/v1/{tenant_id}/stacks/detail": {"get": ("listStacksDetail", 200, {"limit": INT_Q, "marker": S}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}": {m: (f"lookupStack{m.title()}", 302, {}, None) for m in ["get", "post", "put", "patch", "delete"]},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}": {
        "get": ("showStack", 200, {"resolve_outputs": BOOL_Q}, None),
        "put": ("updateStack", 202, {}, STACK_BODY),
        "patch": ("updateStackPatch", 202, {}, STACK_BODY),
        "delete": ("deleteStack", 204, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/template": {"get": ("stackTemplate", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/environment": {"get": ("stackEnvironment", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/files": {"get": ("stackFiles", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/preview": {
        "put": ("previewUpdate", 200, {"show_nested": BOOL_Q}, STACK_BODY),
        "patch": ("previewUpdatePatch", 200, {"show_nested": BOOL_Q}, STACK_BODY)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/abandon": {"delete": ("abandonStack", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/export": {"get": ("exportStack", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/snapshots": {
        "get": ("listSnapshots", 200, {}, None),
        "post": ("createSnapshot", 200, {}, {"type": "object", "properties": {"name": S}})},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/snapshots/{snapshot_id}": {
        "get": ("showSnapshot", 200, {}, None), "delete": ("deleteSnapshot", 204, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/snapshots/{snapshot_id}/restore": {"post": ("restoreSnapshot", 202, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/outputs": {"get": ("listOutputs", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/outputs/{output_key}": {"get": ("showOutput", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/actions": {"post": ("stackAction", 200, {}, {
        "type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
            k: {"nullable": True} for k in ["suspend", "resume", "check", "cancel_update", "cancel_without_rollback"]}})},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources": {"get": ("listResources", 200, {"nested_depth": INT_Q, "with_detail": BOOL_Q, "type": S, "status": S, "name": S, "action": S, "id": S, "physical_resource_id": S}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources/{resource_name}": {
        "get": ("showResource", 200, {"with_attr": S}, None),
        "patch": ("markUnhealthy", 200, {}, {"type": "object", "required": ["mark_unhealthy"], "properties": {
            "mark_unhealthy": {"type": "boolean"}, "resource_status_reason": S}})},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources/{resource_name}/metadata": {"get": ("resourceMetadata", 200, {}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources/{resource_name}/signal": {"post": ("signalResource", 200, {}, OBJ)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/events": {"get": ("listStackEvents", 200, {"limit": INT_Q, "marker": S, "sort_dir": {"type": "string", "enum": ["asc", "desc"]}, "nested_depth": INT_Q, "resource_status": S, "resource_action": S, "resource_name": S, "resource_type": S}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources/{resource_name}/events": {"get": ("listResourceEvents", 200, {"limit": INT_Q, "marker": S}, None)},
    "/v1/{tenant_id}/stacks/{stack_name}/{stack_id}/resources/{resource_name}/events/{event_id}": {"get": ("showEvent", 200, {}, None)},
    "/v1/{tenant_id}/build_info": {"get": ("buildInfo", 200, {}, None)},
    "/v1/{tenant_id}/services": {"get": ("listServices", 200, {}, None)},
    "/v1/{tenant_id}/software_configs": {
        "get": ("listSoftwareConfigs", 200, {"limit": INT_Q, "marker": S}, None),
        "post": ("createSoftwareConfig", 200, {}, {"type": "object", "properties": {
            "name": S, "group": S, "config": S, "inputs": {"type": "array"}, "outputs": {"type": "array"}, "options": OBJ}})},
    "/v1/{tenant_id}/software_configs/{config_id}": {"get": ("showSoftwareConfig", 200, {}, None), "delete": ("deleteSoftwareConfig", 204, {}, None)},
    "/v1/{tenant_id}/software_deployments": {
        "get": ("listSoftwareDeployments", 200, {"server_id": S}, None),
        "post": ("createSoftwareDeployment", 200, {}, {"type": "object", "properties": {
            "config_id": S, "server_id": S, "input_values": OBJ, "action": S, "status": S, "status_reason": S, "stack_user_project_id": S}})},
    "/v1/{tenant_id}/software_deployments/metadata/{server_id}": {"get": ("deploymentMetadata", 200, {}, None)},
    "/v1/{tenant_id}/software_deployments/{deployment_id}": {
        "get": ("showSoftwareDeployment", 200, {}, None),
        "put": ("updateSoftwareDeployment", 200, {}, OBJ),
        "delete": ("deleteSoftwareDeployment", 204, {}, None)},
    "/v1/waitcondition/{arn}": {"put": ("signalWaitCondition", 200, {"Expires": {"type": "integer"}, "Signature": S, "SignatureMethod": S}, {
        "type": "object", "properties": {"Status": {"type": "string", "enum": ["SUCCESS", "FAILURE"]}, "Reason": S, "UniqueId": S, "Data": S}})},
    "/v1/signal/{arn}": {"post": ("signalPresigned", 200, {"Expires": {"type": "integer"}, "Signature": S, "SignatureMethod": S}, OBJ)},
}


def operation(path, op_id, status, query, body):
    params = [{"name": p, "in": "path", "required": True, "schema": S}
              for p in [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]]
    params += [{"name": q, "in": "query", "required": False, "schema": schema} for q, schema in query.items()]
    op = {"operationId": op_id, "parameters": params,
          "responses": {str(status): {"description": "success"}, "400": ERROR, "401": {"description": "no or invalid token"},
                        "403": ERROR, "404": ERROR, "409": ERROR, "413": ERROR}}
    if status == 302:
        op["responses"]["302"] = {"description": "redirect to the canonical /stacks/{name}/{id} URL"}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


doc = {
    "openapi": "3.0.3",
    "info": {"title": "Ember orchestration API (Heat REST API v1)", "version": "1.0",
             "description": "Heat's orchestration API v1 as served by `ember serve`. Errors use Heat's body "
                            "{explanation, code, error: {message, traceback, type}, title}."},
    "components": {"securitySchemes": {"keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}}},
    "security": [{"keystone": []}],
    "paths": {"/": {"get": {"operationId": "versions", "security": [], "responses": {"300": {"description": "API versions"}}}}},
}
for path, methods in ROUTES.items():
    doc["paths"][path] = {m: operation(path, *spec) for m, spec in methods.items()}
    if path.startswith("/v1/waitcondition") or path.startswith("/v1/signal"):
        for op in doc["paths"][path].values():
            op["security"] = []

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(f"wrote {out}: {len(doc['paths'])} paths")
