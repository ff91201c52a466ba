#!/usr/bin/env bash
# Load benchmark of the read paths of the orchestration API with 1,000 stacks stored:
# stack list (all stacks, and one sorted page of 20), stack show (canonical URL) and stack event
# list, with wrk (Debian package `wrk`).
#
#   crates/api/bench/load.sh URL_ROOT            e.g. http://127.0.0.1:18004 (ember serve --auth none)
#   BENCH_AUTH=keystone crates/api/bench/load.sh http://127.0.0.1:8014   # OS_* sourced (heat-peer)
# Env: STACKS (1000), DURATION (20s), CONNECTIONS (16), THREADS (2), PYTHON (python3 with requests).
# Prints one line per case: requests/s and p99 latency; appends them to bench/results.tsv.
set -euo pipefail
ROOT_URL="${1:?usage: load.sh URL_ROOT}"
STACKS="${STACKS:-1000}" DURATION="${DURATION:-20s}" CONNECTIONS="${CONNECTIONS:-16}" THREADS="${THREADS:-2}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

# Fill the store (idempotent: only missing bench-N stacks are created) and print tenant, token, a stack URL.
read -r TENANT TOKEN STACK_URL < <(BENCH_AUTH="${BENCH_AUTH:-none}" "$PYTHON" - "$ROOT_URL" "$STACKS" <<'PY'
import concurrent.futures, os, sys, time, requests
root, n = sys.argv[1].rstrip("/"), int(sys.argv[2])
if os.environ["BENCH_AUTH"] == "keystone":
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": os.environ["OS_USERNAME"],
            "password": os.environ["OS_PASSWORD"], "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"], "domain": {"name": "Default"}}}}}
    r = requests.post(os.environ["OS_AUTH_URL"] + "/auth/tokens", json=body); r.raise_for_status()
    token, tenant = r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]
else:
    token, tenant = "none", "bench0000000000000000000000000000"
h = {"X-Auth-Token": token, "Content-Type": "application/json"}
v1 = f"{root}/v1/{tenant}"
have = {s["stack_name"] for s in requests.get(f"{v1}/stacks", headers=h).json()["stacks"]}
tmpl = {"heat_template_version": "2018-08-31", "resources": {"v": {"type": "OS::Heat::Value", "properties": {"value": "x"}}}}
def create(i):
    name = f"bench-{i}"
    if name in have:
        return
    for _ in range(5):
        r = requests.post(f"{v1}/stacks", json={"stack_name": name, "template": tmpl}, headers=h)
        if r.status_code in (201, 409):
            return
        time.sleep(1)
    raise SystemExit(f"create {name}: {r.status_code} {r.text[:200]}")
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(create, range(n)))
r = requests.get(f"{v1}/stacks/bench-0", headers=h, allow_redirects=False)
print(tenant, token, r.headers["Location"])
PY
)

run() {
  local label="$1" url="$2"
  local out
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "X-Auth-Token: $TOKEN" "$url")"
  local rps p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  printf '%-12s %10s req/s  p99 %s\n' "$label" "$rps" "$p99"
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$ROOT_URL" "$label" "$rps" "$p99" >>"$HERE/results.tsv"
}
echo "server $ROOT_URL, $STACKS stacks, $CONNECTIONS connections, $DURATION per case"
run "stack-list" "$ROOT_URL/v1/$TENANT/stacks"
run "stack-page" "$ROOT_URL/v1/$TENANT/stacks?limit=20&sort_keys=stack_name&sort_dir=asc"
run "stack-show" "$STACK_URL"
run "event-list" "$STACK_URL/events"
