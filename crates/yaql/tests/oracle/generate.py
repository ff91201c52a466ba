"""Regenerates cases.json: each expression evaluated by the real Python yaql
the way Heat's `yaql` function runs it (YaqlFactory().create() with
limitIterators=200 and memoryQuota=10000, yaql.create_context(), and
statement.evaluate({'data': data}, context)).

Usage: pip install yaql==3.2.0 && python3 generate.py < inputs.json > cases.json
where inputs.json is a list of [expression, data] pairs.
"""
import json
import sys

import yaql
from yaql.language import exceptions

ENGINE = yaql.YaqlFactory().create({
    'yaql.limitIterators': 200,
    'yaql.memoryQuota': 10000,
})
CONTEXT = yaql.create_context()


def run(expression, data):
    try:
        statement = ENGINE(expression)
    except exceptions.YaqlParsingException as e:
        return {'parse_error': str(e)}
    try:
        result = statement.evaluate({'data': data}, CONTEXT.create_child_context())
        if isinstance(result, (set, frozenset)):
            # dict.keys()/values()/items() come out of yaql as Python sets,
            # which have no order (and no JSON form); compare as multisets.
            result = sorted(result, key=json.dumps)
            return {'unordered': json.loads(json.dumps(result, allow_nan=False))}
        return {'result': json.loads(json.dumps(result, allow_nan=False))}
    except exceptions.CollectionTooLargeException:
        return {'error': 'CollectionTooLarge'}
    except exceptions.MemoryQuotaExceededException:
        return {'error': 'MemoryQuota'}
    except Exception as e:  # noqa: BLE001 - every failure is a refusal
        return {'error': type(e).__name__}


def main():
    cases = []
    for expression, data in json.load(sys.stdin):
        case = {'expression': expression, 'data': data}
        case.update(run(expression, data))
        cases.append(case)
    json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
