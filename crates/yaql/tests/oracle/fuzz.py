"""Differential fuzzing: random expressions over fixed data, evaluated by
Python yaql (as Heat runs it, see generate.py) and by ember-yaql's
`eval_lines` example; prints the disagreements.

Usage (from the workspace root, with `pip install yaql==3.2.0`):
    cargo build -p ember-yaql --example eval_lines
    python3 crates/yaql/tests/oracle/fuzz.py SEED COUNT
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate as G  # noqa: E402

EVAL_LINES = os.environ.get('EVAL_LINES', 'target/debug/examples/eval_lines')
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
DATA = {"list": [3, 1, 2, 2], "words": ["b", "a", "c"], "d": {"x": 1, "y": [1, 2], "z": {"k": "v"}},
        "s": "Hello World", "n": 7, "f": 2.5, "nested": [[1, 2], [3], []], "recs": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}
atoms = ["$.data.list", "$.data.words", "$.data.d", "$.data.s", "$.data.n", "$.data.f", "$.data.nested", "$.data.recs",
         "1", "0", "-2", "2.5", "'ab'", "''", "null", "true", "false", "[]", "[1, 2]", "{}", "{a => 1}", "$"]
methods = ["split(',')", "rightSplit(',')", "replace('a', 'b', 1)", "indexOf('l')", "lastIndexOf('o')", "trimLeft('H')", "trimRight('d')",
           "endsWith('d', 'x')", "toCharArray()", "norm()", "substring(-3)", "matches('W.r')", "split(regex('o'))", "replace(regex('[lo]+'), '-')",
           "orderByDescending($)", "takeWhile($ < 3)", "skipWhile($ < 3)", "indexWhere($ = 2)", "lastIndexOf(2)", "toDict($, $)", "groupBy($, $, $.len())",
           "distinct($ mod 2)", "accumulate($1 + $2)", "reduce($1 + $2, 10)", "append(9)", "concat([8])", "limit(1)", "single()", "splitAt(1)", "slice(2)",
           "items().select($[0])", "values().sum()", "deleteAll(['x'])", "containsValue(1)", "mergeWith({y => [3]})", "set({x => 2})", "isEmpty()",
           "sum(10)", "max(0)", "first(0)", "last(0)", "zipLongest([1])", "cycle().take(5)", "repeat(2)", "reverse()", "any($ > 2)", "all($ > 0)","len()", "sum()", "max()", "min()", "first()", "last()", "distinct()", "flatten()", "reverse()", "keys()", "values()",
           "toUpper()", "toLower()", "trim()", "split()", "split(' ')", "rightSplit(' ', 1)", "join(',')", "count()",
           "select($ * 2)", "select(str($))", "where($ > 1)", "where($)", "any()", "all()", "orderBy($)", "take(2)", "skip(1)",
           "select($.name)", "groupBy($ mod 2)", "indexOf(2)", "contains(2)", "get('x')", "get('x', 0)", "isEmpty()",
           "replace('l', 'L')", "startsWith('H')", "substring(1, 3)", "enumerate()", "zip([1, 2])", "toList()", "mergeWith({x => 5})",
           "selectMany($)", "aggregate($1 + $2)", "delete('x')", "set('q', 1)", "containsKey('x')", "name", "x", "y", "v"]
funcs = ["regex({0}).search({1})", "'{{0}}-' + str({0})", "range({0}, {1})", "sequence({0}).take(3)", "selectCase({0}, {1})",
         "examine({0}, {1})", "{0}.switchCase({1}, 2)", "isInteger({0})", "isNumber({0})", "isBoolean({0})", "sign({0})", "pow({0}, 2)","len({0})", "str({0})", "int({0})", "float({0})", "bool({0})", "isList({0})", "isDict({0})", "isString({0})",
         "coalesce({0}, {1})", "max({0}, {1})", "min({0}, {1})", "range({0})", "concat({0}, {1})", "dict({0})",
         "list({0})", "switch({0} => {1}, true => 0)", "let(a => {0}) -> $a", "abs({0})", "round({0})"]
binops = ["+", "-", "*", "/", "mod", "=", "!=", "<", ">", "<=", ">=", "in", "and", "or"]
def expr(depth):
    r = random.random()
    if depth <= 0 or r < 0.3:
        return random.choice(atoms)
    if r < 0.6:
        return expr(depth - 1) + "." + random.choice(methods)
    if r < 0.75:
        return random.choice(funcs).format(expr(depth - 1), expr(depth - 1))
    if r < 0.9:
        return "(" + expr(depth - 1) + " " + random.choice(binops) + " " + expr(depth - 1) + ")"
    if r < 0.95:
        return expr(depth - 1) + "[" + random.choice(["0", "-1", "1", "'x'"]) + "]"
    return "not " + expr(depth - 1)
cases = []
seen = set()
while len(cases) < int(sys.argv[2]) if len(sys.argv) > 2 else 2000:
    e = expr(3)
    if e in seen: continue
    seen.add(e); cases.append(e)
inp = "\n".join(json.dumps([e, DATA]) for e in cases) + "\n"
ours = subprocess.run([EVAL_LINES], input=inp, capture_output=True, text=True).stdout.splitlines()
bad = 0
for e, o in zip(cases, ours):
    o = json.loads(o)
    y = G.run(e, DATA)
    if 'result' in y:
        ok = o.get('result') == y['result'] and json.dumps(o.get('result')) == json.dumps(y['result'])
    elif 'unordered' in y:
        ok = isinstance(o.get('result'), list) and sorted(map(json.dumps, o['result'])) == sorted(map(json.dumps, y['unordered']))
    else:
        ok = 'error' in o
    if not ok:
        bad += 1
        if bad <= 40:
            print(e, "\n   yaql:", y, "\n   ours:", o)
print("disagree", bad, "of", len(cases))
