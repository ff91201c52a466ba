"""Parse-parity fuzzing: random fragment soups must be refused by ember's
parser exactly when Python yaql's parser refuses them.

Usage (from the workspace root, with `pip install yaql==3.2.0`):
    cargo build -p ember-yaql --example eval_lines
    python3 crates/yaql/tests/oracle/parse_fuzz.py SEED COUNT
"""
import json
import os
import random
import subprocess
import sys

import yaql
from yaql.language import exceptions

E = yaql.YaqlFactory().create()
EVAL_LINES = os.environ.get('EVAL_LINES', 'target/debug/examples/eval_lines')
random.seed(int(sys.argv[1]))
frags = ["$", "$.data", ".a", ".f(", "f(", ")", "(", "[", "]", "{", "}", ",", "=>", "->", "?.", "1", "2.5", "'s'", "\"d\"", "`v`",
         " and ", " or ", " not ", "not ", " in ", " mod ", "+", "-", "*", "/", "=", "!=", "<", ">=", "=~", "$x", "$1", "true", "null", "a", " ", "1.", ".5", "x(", "__a", "é"]
cases = []
for _ in range(int(sys.argv[2])):
    cases.append("".join(random.choice(frags) for _ in range(random.randint(1, 8))))
inp = "\n".join(json.dumps([c, None]) for c in cases) + "\n"
ours = subprocess.run([EVAL_LINES], input=inp, capture_output=True, text=True).stdout.splitlines()
bad = 0
for c, o in zip(cases, ours):
    o = json.loads(o)
    ours_parse_err = 'error' in o and o['error'].split('(')[0].split(' ')[0].split('{')[0] in ('Lexical', 'Parse', 'UnexpectedEnd', 'TooDeep')
    try:
        E(c); py_err = None
    except exceptions.YaqlParsingException as e:
        py_err = str(e)
    except Exception as e:
        py_err = 'other ' + type(e).__name__
    if (py_err is not None) != ours_parse_err:
        bad += 1
        if bad < 25:
            print(repr(c), '| yaql:', py_err, '| ours:', o)
print('parse disagreements', bad, 'of', len(cases))
