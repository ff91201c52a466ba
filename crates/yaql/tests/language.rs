//! Behaviour of the YAQL language and library. Expected values come from
//! yaql's documentation examples (`yaql> ...` lines in its standard
//! library), Heat's `yaql` tests (heat/tests/test_hot.py,
//! heat/tests/openstack/heat/test_value.py) and expressions used in
//! openstack/tripleo-heat-templates.

use ember_yaql::{evaluate, parse, Error, Limits};
use serde_json::{json, Value};

fn eval(expression: &str, data: Value) -> Value {
    match evaluate(expression, &data, &Limits::default()) {
        Ok(v) => v,
        Err(e) => panic!("{expression}: {e}"),
    }
}

fn yaql(expression: &str) -> Value {
    eval(expression, json!({}))
}

fn fails(expression: &str, data: Value) -> Error {
    match evaluate(expression, &data, &Limits::default()) {
        Ok(v) => panic!("{expression} gave {v}, expected an error"),
        Err(e) => e,
    }
}

// ---- Heat's own yaql tests

#[test]
fn heat_test_hot_cases() {
    assert_eq!(
        eval("$.data.var1.sum()", json!({"var1": [1, 2, 3, 4]})),
        json!(10)
    );
    assert_eq!(eval("$.data.sum()", json!([1, 2, 3, 4])), json!(10));
    assert_eq!(
        eval("$.data", json!("whynotastring")),
        json!("whynotastring")
    );
    assert_eq!(eval("$.data + 2", json!(2)), json!(4));
    assert_eq!(eval("$.data.var1.len()", json!({"var1": "12"})), json!(2));
    assert_eq!(
        eval(
            "$.data.d.reduce($1.mergeWith($2))",
            json!({"d": [{"a": [1]}, {"a": [2]}, {"a": [3]}]})
        ),
        json!({"a": [1, 2, 3]})
    );
    let services = "$.data.service_names.contains(\"neutron\")";
    assert_eq!(
        eval(services, json!({"service_names": ["neutron", "heat"]})),
        json!(true)
    );
    assert_eq!(
        eval(services, json!({"service_names": ["nova_network", "heat"]})),
        json!(false)
    );
}

#[test]
fn heat_invalid_expression_message() {
    let err = parse("invalid(").unwrap_err();
    assert_eq!(err.to_string(), "Parse error: unexpected end of statement");
    assert!(err.is_parse_error());
}

#[test]
fn heat_test_value_cases() {
    assert_eq!(
        eval(
            "$.data.param2.select(int($)).min()",
            json!({"param2": ["-8", "0", "4", "-11", "2"]})
        ),
        json!(-11)
    );
    assert_eq!(
        eval("min($.data.v1,$.data.v2)", json!({"v1": -800, "v2": -11})),
        json!(-800)
    );
}

// ---- lexer and literals

#[test]
fn literals() {
    assert_eq!(yaql("12"), json!(12));
    assert_eq!(yaql("1.5"), json!(1.5));
    assert_eq!(yaql("'a\\'b'"), json!("a'b"));
    assert_eq!(yaql("\"tab\\there\""), json!("tab\there"));
    assert_eq!(yaql("`verbatim\\n`"), json!("verbatim\\n"));
    assert_eq!(yaql("'\\d+'"), json!("\\d+"));
    assert_eq!(yaql("true"), json!(true));
    assert_eq!(yaql("false"), json!(false));
    assert_eq!(yaql("null"), json!(null));
    assert_eq!(yaql("[1, 'a', null]"), json!([1, "a", null]));
    assert_eq!(yaql("{a => 1, 'b c' => [2]}"), json!({"a": 1, "b c": [2]}));
    assert_eq!(yaql("[]"), json!([]));
    assert_eq!(yaql("{}"), json!({}));
}

#[test]
fn lexical_and_parse_errors_match_yaql_text() {
    assert_eq!(
        parse("1 # 2").unwrap_err().to_string(),
        "Lexical error: illegal character '#' at position 2"
    );
    assert_eq!(
        parse("1 + + )").unwrap_err().to_string(),
        "Parse error: unexpected ')' at position 6 of expression '1 + + )'"
    );
    assert_eq!(parse("[1, 2").unwrap_err(), Error::UnexpectedEnd);
    assert!(matches!(
        parse("'open").unwrap_err(),
        Error::Lexical { position: 0, .. }
    ));
    // A function name must touch its parenthesis.
    assert!(parse("len ($)").is_err());
}

// ---- data access

#[test]
fn context_and_data_access() {
    let data = json!({"a": {"b": [10, 20, 30]}, "list": [{"x": 1}, {"x": 2}]});
    assert_eq!(eval("$.data.a.b[1]", data.clone()), json!(20));
    assert_eq!(eval("$.data.a.b[-1]", data.clone()), json!(30));
    assert_eq!(eval("$.data['a']['b'][0]", data.clone()), json!(10));
    assert_eq!(
        eval("$.data.a['missing', 'dflt']", data.clone()),
        json!("dflt")
    );
    assert_eq!(eval("$.data.list.x", data.clone()), json!([1, 2]));
    assert_eq!(eval("$", json!(1)), json!({"data": 1}));
    assert_eq!(eval("$undefined", json!(1)), json!(null));
    assert!(matches!(
        fails("$.data.a.nope", data.clone()),
        Error::Runtime(_)
    ));
    assert!(matches!(fails("$.data.a.b[5]", data), Error::Runtime(_)));
}

#[test]
fn null_safe_access() {
    assert_eq!(eval("$.data.x?.y", json!({"x": null})), json!(null));
    assert_eq!(eval("$.data.x?.y", json!({"x": {"y": 3}})), json!(3));
    assert_eq!(yaql("[0, 1]?.select($+1)"), json!([1, 2]));
    assert_eq!(yaql("null?.select($+1)"), json!(null));
}

#[test]
fn dot_with_expression_binds_receiver() {
    // yaql evaluates only keys and method calls after a dot.
    assert!(matches!(
        fails("[1, 2].($.len())", json!(null)),
        Error::NoMatchingFunction(_)
    ));
}

// ---- operators

#[test]
fn arithmetic_is_pythonic() {
    assert_eq!(yaql("1 + 2 * 3"), json!(7));
    assert_eq!(yaql("(1 + 2) * 3"), json!(9));
    assert_eq!(yaql("7 / 2"), json!(3));
    assert_eq!(yaql("-7 / 2"), json!(-4));
    assert_eq!(yaql("7.0 / 2"), json!(3.5));
    assert_eq!(yaql("7 mod 3"), json!(1));
    assert_eq!(yaql("-7 mod 3"), json!(2));
    assert_eq!(yaql("1 - 2 - 3"), json!(-4));
    assert_eq!(yaql("-2 * 3"), json!(-6));
    assert_eq!(yaql("+5"), json!(5));
    assert_eq!(yaql("1 + 0.5"), json!(1.5));
    assert!(matches!(fails("1 / 0", json!(null)), Error::Runtime(_)));
    assert!(matches!(
        fails("1 + 'a'", json!(null)),
        Error::NoMatchingFunction(_)
    ));
}

#[test]
fn concatenation_and_repetition() {
    assert_eq!(yaql("'ab' + 'cd'"), json!("abcd"));
    assert_eq!(yaql("[1, 2] + [3]"), json!([1, 2, 3]));
    assert_eq!(yaql("{a => 1} + {b => 2}"), json!({"a": 1, "b": 2}));
    assert_eq!(yaql("'ab' * 2"), json!("abab"));
    assert_eq!(yaql("2 * [1]"), json!([1, 1]));
}

#[test]
fn comparisons() {
    assert_eq!(yaql("1 = 1.0"), json!(true));
    assert_eq!(yaql("'1' = 1"), json!(false));
    assert_eq!(yaql("[1, 2] = [1, 2]"), json!(true));
    assert_eq!(yaql("{} != {}"), json!(false));
    assert_eq!(yaql("'abc' > 'ab'"), json!(true));
    assert_eq!(yaql("'abb' < 'abc'"), json!(true));
    assert_eq!(yaql("2 >= 2"), json!(true));
    assert_eq!(yaql("2 <= 1"), json!(false));
    assert_eq!(yaql("null < 1"), json!(true));
    assert_eq!(yaql("null <= null"), json!(true));
    assert!(matches!(
        fails("'a' < 1", json!(null)),
        Error::NoMatchingFunction(_)
    ));
}

#[test]
fn membership() {
    assert_eq!(yaql("2 in [1, 2]"), json!(true));
    assert_eq!(yaql("'ab' in 'abc'"), json!(true));
    assert_eq!(yaql("'ab' in 'acb'"), json!(false));
    assert_eq!(eval("':' in $.data", json!("host:8080")), json!(true));
}

#[test]
fn boolean_operators_return_operands() {
    assert_eq!(yaql("true and false"), json!(false));
    assert_eq!(yaql("null or 'x'"), json!("x"));
    assert_eq!(yaql("0 and 1/0"), json!(0));
    assert_eq!(yaql("not 1 = 2"), json!(true));
    assert_eq!(yaql("not []"), json!(true));
    assert_eq!(yaql("true and not false"), json!(true));
    assert_eq!(yaql("1 = 1 and 2 = 3 or 4 = 4"), json!(true));
}

#[test]
fn context_passing() {
    assert_eq!(yaql("let(a => 1) -> $a"), json!(1));
    assert_eq!(
        yaql("let(1, 2, a => 3, b => 4) -> $1 + $a + $2 + $b"),
        json!(10)
    );
    assert_eq!(yaql("with('ab', 'cd') -> $1 + $2"), json!("abcd"));
    assert_eq!(yaql("[1, 2].unpack(a, b) -> $a + $b"), json!(3));
    assert_eq!(yaql("[2, 3].unpack() -> $1 + $2"), json!(5));
    assert_eq!(
        yaql("let(a => 1) -> let(b => $a + 1) -> [$a, $b]"),
        json!([1, 2])
    );
    assert_eq!(
        eval(
            "let(root => $) -> $.data.x.where($ in $root.data.y)",
            json!({"x": [1, 2, 3], "y": [2, 3]})
        ),
        json!([2, 3])
    );
    assert!(fails("let(a => 1)", json!(null)).to_string().contains("->"));
}

#[test]
fn regex_operators() {
    assert_eq!(yaql("'abc' =~ 'b.'"), json!(true));
    assert_eq!(yaql("'abc' !~ '^b'"), json!(true));
    assert_eq!(yaql("'abc' =~ regex('B', ignoreCase => true)"), json!(true));
}

// ---- queries

#[test]
fn select_where_and_friends() {
    assert_eq!(yaql("[1, 2, 3].where($ > 1)"), json!([2, 3]));
    assert_eq!(yaql("[1, 2, 3].filter($ > 1)"), json!([2, 3]));
    assert_eq!(yaql("[1, 2, 3].select($ * 2)"), json!([2, 4, 6]));
    // `where` is a method only; `len` is both; `isList` a function only.
    assert_eq!(
        fails("where([1, 2, 3], $ > 2)", json!(null)),
        Error::UnknownFunction("where".into())
    );
    assert_eq!(yaql("len([1, 2])"), json!(2));
    assert!(matches!(
        fails("[1].isList()", json!(null)),
        Error::Runtime(_)
    ));
    assert_eq!(yaql("[[1, 2], [3]].selectMany($)"), json!([1, 2, 3]));
    assert_eq!(yaql("[1, 2, 3, 4].takeWhile($ < 3)"), json!([1, 2]));
    assert_eq!(yaql("[1, 2, 3, 4].skipWhile($ < 3)"), json!([3, 4]));
    assert_eq!(yaql("[1, 2, 3].take(2)"), json!([1, 2]));
    assert_eq!(yaql("[1, 2, 3].limit(2)"), json!([1, 2]));
    assert_eq!(yaql("[1, 2, 3].skip(2)"), json!([3]));
    assert_eq!(yaql("[1, 2].append(3, 4)"), json!([1, 2, 3, 4]));
    assert_eq!(yaql("[1, 2].concat([3], [4])"), json!([1, 2, 3, 4]));
    assert_eq!(yaql("[1, 2, 3].reverse()"), json!([3, 2, 1]));
    assert_eq!(yaql("['a', 'b'].enumerate(1)"), json!([[1, "a"], [2, "b"]]));
}

#[test]
fn aggregates() {
    assert_eq!(yaql("[1, 2, 3].len()"), json!(3));
    assert_eq!(yaql("len([1, 2, 3])"), json!(3));
    assert_eq!(yaql("[1, 2, 3].count()"), json!(3));
    assert_eq!(yaql("{a => 1}.len()"), json!(1));
    assert_eq!(yaql("'abc'.len()"), json!(3));
    assert_eq!(yaql("[1, 2, 3].sum()"), json!(6));
    assert_eq!(yaql("['a', 'b'].sum('')"), json!("ab"));
    assert_eq!(yaql("[3, 1, 2].max()"), json!(3));
    assert_eq!(yaql("[3, 1, 2].min()"), json!(1));
    assert_eq!(yaql("max(1, 5)"), json!(5));
    assert_eq!(yaql("[].max(7)"), json!(7));
    assert!(matches!(fails("[].sum()", json!(null)), Error::Runtime(_)));
    assert_eq!(yaql("[1, 2, 3].first()"), json!(1));
    assert_eq!(yaql("[1, 2, 3].last()"), json!(3));
    assert_eq!(yaql("[].first(null)"), json!(null));
    assert_eq!(yaql("[].last(default => '')"), json!(""));
    assert!(matches!(
        fails("[].first()", json!(null)),
        Error::Runtime(_)
    ));
    assert_eq!(yaql("[1, 2, 3].aggregate($1 + $2)"), json!(6));
    assert_eq!(yaql("[1, 2, 3].reduce($1 + $2, 10)"), json!(16));
    assert_eq!(yaql("[1, 2, 3].accumulate($1 + $2)"), json!([1, 3, 6]));
    assert_eq!(yaql("[].any()"), json!(false));
    assert_eq!(yaql("[1, 2].any($ > 1)"), json!(true));
    assert_eq!(yaql("[1, 2].all($ > 1)"), json!(false));
    assert_eq!(yaql("[].all()"), json!(true));
    assert_eq!(yaql("[1, 2, 1].indexOf(1)"), json!(0));
    assert_eq!(yaql("[1, 2, 1].lastIndexOf(1)"), json!(2));
    assert_eq!(yaql("[1, 2, 1].indexWhere($ > 1)"), json!(1));
    assert_eq!(yaql("[1, 2].contains(2)"), json!(true));
}

#[test]
fn distinct_flatten_group_order_zip() {
    assert_eq!(yaql("[1, 2, 1, 1.0, 3].distinct()"), json!([1, 2, 3]));
    assert_eq!(yaql("[1, 2, 3, 4].distinct($ mod 2)"), json!([1, 2]));
    assert_eq!(yaql("[[1, [2]], 3, [[4]]].flatten()"), json!([1, 2, 3, 4]));
    assert_eq!(
        yaql("[[1, 'a'], [2, 'b'], [1, 'c']].groupBy($[0], $[1])"),
        json!([[1, ["a", "c"]], [2, ["b"]]])
    );
    assert_eq!(
        yaql("[[1, 'a'], [2, 'b'], [1, 'c']].groupBy($[0], $[1], $.len())"),
        json!([[1, 2], [2, 1]])
    );
    assert_eq!(yaql("[3, 1, 2].orderBy($)"), json!([1, 2, 3]));
    assert_eq!(yaql("[3, 1, 2].orderByDescending($)"), json!([3, 2, 1]));
    assert_eq!(
        yaql("[[1, 'c'], [0, 'b'], [1, 'a']].orderBy($[0]).thenByDescending($[1])"),
        json!([[0, "b"], [1, "c"], [1, "a"]])
    );
    assert_eq!(yaql("[1, 2, 3].zip([4, 5])"), json!([[1, 4], [2, 5]]));
    assert_eq!(
        yaql("[1, 2].zipLongest([4], default => 0)"),
        json!([[1, 4], [2, 0]])
    );
    assert_eq!(
        yaql("[1, 2].join([2, 3], $1 = $2, [$1, $2])"),
        json!([[2, 2]])
    );
}

#[test]
fn ranges_and_sequences() {
    assert_eq!(yaql("range(3)"), json!([0, 1, 2]));
    assert_eq!(yaql("range(1, 7, 2)"), json!([1, 3, 5]));
    assert_eq!(yaql("range(3, 0, -1)"), json!([3, 2, 1]));
    assert_eq!(yaql("sequence(5, 2).take(3)"), json!([5, 7, 9]));
    assert_eq!(yaql("'x'.repeat(2)"), json!(["x", "x"]));
    assert_eq!(yaql("1.repeat().take(3)"), json!([1, 1, 1]));
    assert_eq!(yaql("[1, 2].cycle().take(5)"), json!([1, 2, 1, 2, 1]));
}

#[test]
fn list_function_flattens_only_query_results() {
    assert_eq!(yaql("list(1, 2)"), json!([1, 2]));
    assert_eq!(yaql("list([1, 2].select($))"), json!([1, 2]));
    assert_eq!(eval("list($.data)", json!([1, 2])), json!([[1, 2]]));
    assert_eq!(yaql("[1, 2].toList()"), json!([1, 2]));
}

// ---- dictionaries

#[test]
fn dictionaries() {
    assert_eq!(yaql("dict(a => 1, b => 2)"), json!({"a": 1, "b": 2}));
    assert_eq!(yaql("dict([['a', 1], ['b', 2]])"), json!({"a": 1, "b": 2}));
    assert_eq!(yaql("dict()"), json!({}));
    assert_eq!(yaql("[1, 2].toDict($, $ * 2)"), json!({"1": 2, "2": 4}));
    assert_eq!(yaql("{a => 1, b => 2}.keys()"), json!(["a", "b"]));
    assert_eq!(yaql("{a => 1, b => 2}.values()"), json!([1, 2]));
    assert_eq!(
        yaql("{a => 1, b => 2}.items()"),
        json!([["a", 1], ["b", 2]])
    );
    assert_eq!(yaql("{a => 1}.get(a)"), json!(1));
    assert_eq!(yaql("{a => 1}.get(b)"), json!(null));
    assert_eq!(yaql("{a => 1}.get(b, 5)"), json!(5));
    assert_eq!(yaql("{a => 1}.set(b, 2)"), json!({"a": 1, "b": 2}));
    assert_eq!(
        yaql("{a => 1}.set({a => 3, c => 4})"),
        json!({"a": 3, "c": 4})
    );
    assert_eq!(
        yaql("{a => 1}.set(b => 2, c => 3)"),
        json!({"a": 1, "b": 2, "c": 3})
    );
    assert_eq!(
        yaql("{a => 1, b => 2, c => 3}.delete(a, c)"),
        json!({"b": 2})
    );
    assert_eq!(yaql("{a => 1, b => 2}.deleteAll([a])"), json!({"b": 2}));
    assert_eq!(yaql("[0, 1, 2, 3].delete(1, 2)"), json!([0, 3]));
    assert_eq!(yaql("{a => 1}.containsKey(a)"), json!(true));
    assert_eq!(yaql("{a => 1}.containsValue(1)"), json!(true));
    assert_eq!(yaql("{'a' => 1, 'b' => 2}.a"), json!(1));
}

#[test]
fn merge_with() {
    assert_eq!(
        yaql(
            "{a => [1, 2], b => {x => 1}, c => 1}.mergeWith({a => [2, 3], b => {y => 2}, c => 2})"
        ),
        json!({"a": [1, 2, 3], "b": {"x": 1, "y": 2}, "c": 2})
    );
    assert_eq!(
        yaql("{a => 1}.mergeWith({a => 2}, itemMerger => $1 + $2)"),
        json!({"a": 3})
    );
    assert_eq!(
        yaql("{a => {b => 1}}.mergeWith({a => {c => 2}}, maxLevels => 1)"),
        json!({"a": {"c": 2}})
    );
    assert!(fails("{a => 1}.mergeWith({a => {b => 1}})", json!(null))
        .to_string()
        .starts_with("Cannot merge"));
}

// ---- strings

#[test]
fn strings() {
    assert_eq!(yaql("'aB1c'.toUpper()"), json!("AB1C"));
    assert_eq!(yaql("'AB1c'.toLower()"), json!("ab1c"));
    assert_eq!(yaql("'  abcd '.trim()"), json!("abcd"));
    assert_eq!(yaql("'aababa'.trim('a')"), json!("bab"));
    assert_eq!(yaql("'  abcd '.trimLeft()"), json!("abcd "));
    assert_eq!(yaql("'  abcd '.trimRight()"), json!("  abcd"));
    assert_eq!(yaql("'abc     de  f'.split()"), json!(["abc", "de", "f"]));
    assert_eq!(
        yaql("'abc     de  f'.split(maxSplits => 1)"),
        json!(["abc", "de  f"])
    );
    assert_eq!(yaql("'abcde'.split('c')"), json!(["ab", "de"]));
    assert_eq!(
        yaql("'abc     de  f'.rightSplit(maxSplits => 1)"),
        json!(["abc     de", "f"])
    );
    assert_eq!(yaql("'a:b:c'.rightSplit(':', 1)"), json!(["a:b", "c"]));
    assert_eq!(
        yaql("'docker.io/img:tag'.rightSplit(separator => ':', maxSplits => 1)[0]"),
        json!("docker.io/img")
    );
    assert_eq!(yaql("['abc', 'de', 'f'].join('|')"), json!("abc|de|f"));
    assert_eq!(yaql("'|'.join(['abc', 'de', 'f'])"), json!("abc|de|f"));
    assert_eq!(yaql("[1, true, null].join(',')"), json!("1,true,null"));
    assert_eq!(yaql("'abaab'.replace('ab', 'cd')"), json!("cdacd"));
    assert_eq!(yaql("'abaab'.replace('ab', 'cd', 1)"), json!("cdaab"));
    assert_eq!(
        yaql("'abc ab abc'.replace({abc => xx, ab => yy})"),
        json!("xx yy xx")
    );
    assert_eq!(yaql("'abcd'.startsWith('ab', 'xx')"), json!(true));
    assert_eq!(yaql("'abcd'.endsWith('yy', 'xx', 'zz')"), json!(false));
    assert_eq!(yaql("'abcd'.substring(1)"), json!("bcd"));
    assert_eq!(yaql("'abcd'.substring(1, 2)"), json!("bc"));
    assert_eq!(yaql("'cabcdab'.indexOf('ab')"), json!(1));
    assert_eq!(yaql("'cabcdab'.indexOf('ab', 2)"), json!(5));
    assert_eq!(yaql("'cabcdab'.lastIndexOf('ab')"), json!(5));
    assert_eq!(yaql("concat('abc', 'de', 'f')"), json!("abcdef"));
    assert_eq!(
        yaql("'abc de'.toCharArray()"),
        json!(["a", "b", "c", " ", "d", "e"])
    );
    assert_eq!(yaql("'  '.isEmpty()"), json!(true));
    assert_eq!(yaql("null.isEmpty()"), json!(true));
    assert_eq!(yaql("'aba'.isEmpty(chars => 'a')"), json!(false));
    assert_eq!(yaql("'aaaa'.norm('a')"), json!(null));
    // yaql 3.0 removed format() (bug 2048114), so Heat refuses it.
    assert!(fails("'abc{0}'.format(' ')", json!(null))
        .to_string()
        .contains("format"));
}

#[test]
fn conversions() {
    assert_eq!(yaql("str(123)"), json!("123"));
    assert_eq!(yaql("str(null)"), json!("null"));
    assert_eq!(yaql("str(true)"), json!("true"));
    assert_eq!(yaql("str(1.0)"), json!("1.0"));
    assert_eq!(yaql("str(['abc', 'de'])"), json!("('abc', 'de')"));
    assert_eq!(yaql("str([1])"), json!("(1,)"));
    assert_eq!(yaql("int('12')"), json!(12));
    assert_eq!(yaql("int(3.7)"), json!(3));
    assert_eq!(yaql("int(null)"), json!(0));
    assert_eq!(yaql("float('1.5')"), json!(1.5));
    assert_eq!(yaql("float(2)"), json!(2.0));
    assert_eq!(yaql("bool([])"), json!(false));
    assert_eq!(yaql("bool('a')"), json!(true));
    assert_eq!(yaql("abs(-3)"), json!(3));
    assert_eq!(yaql("round(2.5)"), json!(2.0));
    assert_eq!(yaql("pow(2, 10)"), json!(1024));
    assert!(matches!(fails("int('x')", json!(null)), Error::Runtime(_)));
}

#[test]
fn type_tests() {
    assert_eq!(yaql("isList([1])"), json!(true));
    assert_eq!(yaql("isList({})"), json!(false));
    assert_eq!(yaql("isDict({})"), json!(true));
    assert_eq!(yaql("isString('ab')"), json!(true));
    assert_eq!(yaql("isString(1)"), json!(false));
    assert_eq!(yaql("isInteger(1)"), json!(true));
    assert_eq!(yaql("isInteger(1.0)"), json!(false));
    assert_eq!(yaql("isNumber(1.5)"), json!(true));
}

#[test]
fn branching() {
    assert_eq!(yaql("switch(1 > 2 => 'a', true => 'b')"), json!("b"));
    assert_eq!(yaql("switch(false => 1)"), json!(null));
    assert_eq!(yaql("coalesce(null, 2, 1/0)"), json!(2));
    assert_eq!(yaql("coalesce()"), json!(null));
    assert_eq!(yaql("selectCase(false, true, 1/0)"), json!(1));
    assert_eq!(yaql("2.switchCase('a', 'b', 'c')"), json!("c"));
    assert_eq!(yaql("examine(1, 0)"), json!([true, false]));
}

#[test]
fn regular_expressions() {
    let split = "regex('(?:https?://)?(.*?)/(.*)').split($.data)";
    assert_eq!(
        eval(split, json!("docker.io/tripleo/img")),
        json!(["", "docker.io", "tripleo/img", ""])
    );
    assert_eq!(yaql("regex('a.c').matches('abc')"), json!(true));
    assert_eq!(yaql("'abc'.matches('^a')"), json!(true));
    assert_eq!(
        eval(
            "$.data.split('/')[0].matches('(\\.|:)')",
            json!("docker.io/x")
        ),
        json!(true)
    );
    assert_eq!(yaql("regex('[0-9]+').search('ab12cd34')"), json!("12"));
    assert_eq!(yaql("regex('[0-9]+').search('abcd')"), json!(null));
    assert_eq!(
        yaql("regex('[0-9]+').searchAll('ab12cd34')"),
        json!(["12", "34"])
    );
    assert_eq!(
        yaql("regex(`([a-z0-9])([A-Z])`).replace('camelCaseName', '\\\\1_\\\\2').toLower()"),
        json!("camel_case_name")
    );
    assert_eq!(
        yaql("'a1b22c'.replace(regex('[0-9]+'), '-')"),
        json!("a-b-c")
    );
    assert_eq!(
        yaql("'a1b2c'.split(regex('[0-9]'))"),
        json!(["a", "b", "c"])
    );
    assert!(matches!(
        fails("regex('(')", json!(null)),
        Error::Runtime(_)
    ));
    assert!(matches!(
        fails("regex('a')", json!(null)),
        Error::Runtime(_)
    ));
}

// ---- real tripleo-heat-templates expressions

#[test]
fn tripleo_expressions() {
    let role_data = json!({"role_data": [
        {"service_name": "a", "global_config_settings": {"x": 1}},
        null,
        {"service_name": "b"},
        {"service_name": "c", "global_config_settings": {"y": [1]}},
    ]});
    assert_eq!(
        eval(
            "list(coalesce($.data.role_data, []).where($ != null).select($.get('global_config_settings')).where($ != null))",
            role_data.clone()
        ),
        json!([{"x": 1}, {"y": [1]}])
    );
    assert_eq!(
        eval(
            "coalesce($.data.role_data, []).where($ != null).select($.get('global_config_settings')).where($ != null).reduce($1.mergeWith($2), {})",
            role_data
        ),
        json!({"x": 1, "y": [1]})
    );
    assert_eq!(
        eval(
            "coalesce($.data, []).flatten().distinct()",
            json!([["a", "b"], ["b", "c"], null])
        ),
        json!(["a", "b", "c", null])
    );
    assert_eq!(
        eval(
            "switch($.data = {} => 'no_bootstrap_server', $.data != {} => $.data.items().orderBy($[0]).first()[1])",
            json!({"b": "host-b", "a": "host-a"})
        ),
        json!("host-a")
    );
    assert_eq!(
        eval(
            "let(location => $.data.rightSplit(':', 1)[0]) -> regex('(?:https?://)?(.*?)/(.*)').split($location)[2]",
            json!("192.168.24.1:8787/tripleomaster/centos-binary-ceph:current")
        ),
        json!("tripleomaster/centos-binary-ceph")
    );
    assert_eq!(
        eval(
            "let(c => $.data.cred) -> $c.get($.data.ns, {}).keys().last(default => '').isEmpty()",
            json!({"cred": {}, "ns": "x"})
        ),
        json!(true)
    );
    assert_eq!(
        eval(
            "dict($.data.keys().select($.toLower()).zip($.data.values()))",
            json!({"A": 1, "Bb": 2})
        ),
        json!({"a": 1, "bb": 2})
    );
    assert_eq!(
        eval(
            "$.data.items().select($.join('='))",
            json!({"a": "1", "b": "2"})
        ),
        json!(["a=1", "b=2"])
    );
    assert_eq!(
        eval("$.data.select($+\":\"+$+\":ro\")", json!(["/a", "/b"])),
        json!(["/a:/a:ro", "/b:/b:ro"])
    );
    assert_eq!(
        eval(
            "dict($.data.where($ != null).flatten().selectMany($.items()).groupBy($[0], $[1]).select([$[0], $[1].flatten()]))",
            json!([[{"a": [1]}, {"b": [2]}], [{"a": [3]}], null])
        ),
        json!({"a": [1, 3], "b": [2]})
    );
    assert_eq!(
        eval(
            "let(servers=>switch(isDict($.data.servers) => $.data.servers, true => {})) -> $servers.deleteAll($servers.keys().where($servers[$] = null))",
            json!({"servers": {"a": 1, "b": null}})
        ),
        json!({"a": 1})
    );
    assert_eq!(
        eval(
            "range(0,len($.data.dpdk_p)).join(\",\").split(\",\")",
            json!({"dpdk_p": ["x", "y", "z"]})
        ),
        json!(["0", "1", "2"])
    );
    assert_eq!(
        eval(
            "dict(coalesce($.data, []).where($ != null).select([$.get('docker_puppet_tasks'), $.get('service_name')]).where($[0] != null).select([$[0], dict($[0].keys().zip(dict(service_name=>$[1]).repeat(len($[0].keys()))))]).select($[0].mergeWith($[1])).selectMany($.items()).groupBy($[0], $[1]))",
            json!([{"service_name": "nova", "docker_puppet_tasks": {"step_3": {"config": "x"}}}, null])
        ),
        json!({"step_3": [{"config": "x", "service_name": "nova"}]})
    );
    assert_eq!(
        eval(
            "switch(not isList($.data) => 1, true => int($.data.where($.startsWith('tripleo_vlan_id')).first().split('=').last()))",
            json!(["foo=1", "tripleo_vlan_id=42"])
        ),
        json!(42)
    );
    assert_eq!(
        eval(
            "$.data.values().any($.get(\"GlanceBackend\", \"\") = \"rbd\")",
            json!({"x": {"GlanceBackend": "rbd"}})
        ),
        json!(true)
    );
}

#[test]
fn unknown_functions_are_named() {
    assert_eq!(
        fails("nosuch(1)", json!(null)).to_string(),
        "Unknown function \"nosuch\""
    );
}
