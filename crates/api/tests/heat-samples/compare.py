#!/usr/bin/env python3
"""Side by side: the samples recorded from real Heat (this directory) against the same cases
recorded from another server (record.py with SAMPLES_OUT). Prints one line per case whose status
code, error type or top-level/nested JSON keys differ, then a summary; exit 1 on differences."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORED = {"no_token", "bad_token", "other_tenant_in_url", "services"}  # need Keystone / engine processes


def shape(v, depth=0):
    """Key structure of a JSON value: dict keys recursively (two levels), list → first item."""
    if depth > 2:
        return "…"
    if isinstance(v, dict):
        return {k: shape(x, depth + 1) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0], depth + 1)] if v else []
    return type(v).__name__ if v is not None else "null"


def main(other_dir):
    diffs = same = 0
    for f in sorted(os.listdir(HERE)):
        case = f[:-5]
        if not f.endswith(".json") or case in IGNORED:
            continue
        theirs = os.path.join(other_dir, f)
        if not os.path.exists(theirs):
            print(f"{case}: not recorded on the other server")
            diffs += 1
            continue
        heat, other = json.load(open(os.path.join(HERE, f))), json.load(open(theirs))
        problems = []
        if heat["status"] != other["status"]:
            problems.append(f"status {heat['status']} vs {other['status']}")
        herr = heat["body"].get("error", {}) if isinstance(heat["body"], dict) else {}
        oerr = other["body"].get("error", {}) if isinstance(other["body"], dict) else {}
        if isinstance(herr, dict) and herr.get("type") != (oerr.get("type") if isinstance(oerr, dict) else None):
            problems.append(f"error type {herr.get('type')} vs {oerr.get('type') if isinstance(oerr, dict) else oerr}")
        if heat["status"] < 300 and shape(heat["body"]) != shape(other["body"]):
            problems.append(f"keys {json.dumps(shape(heat['body']))[:200]} vs {json.dumps(shape(other['body']))[:200]}")
        if problems:
            diffs += 1
            print(f"{case}: " + "; ".join(problems))
        else:
            same += 1
    print(f"{same} cases alike, {diffs} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
