//! Runaway expressions stop with a limit error; no input panics or hangs.

use ember_yaql::{evaluate, parse_with_limits, Error, Limits};
use proptest::prelude::*;
use serde_json::json;

fn run(expression: &str) -> Result<serde_json::Value, Error> {
    evaluate(
        expression,
        &json!({"list": [1, 2, 3], "s": "abc"}),
        &Limits::default(),
    )
}

#[test]
fn heat_defaults() {
    let limits = Limits::default();
    assert_eq!(limits.max_iterations, 200);
    assert_eq!(limits.max_memory_bytes, 10_000);
}

#[test]
fn huge_ranges_hit_the_iterator_limit() {
    assert_eq!(
        run("range(1000000000).sum()"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(run("range(201)"), Err(Error::CollectionTooLarge(200)));
    assert_eq!(run("range(200).len()"), Ok(json!(200)));
    assert_eq!(
        run("sequence().select($ * 2)"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(run("1.repeat().len()"), Err(Error::CollectionTooLarge(200)));
    assert_eq!(
        run("sequence().take(250).len()"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(
        run("sequence().takeWhile($ >= 0)"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(
        run("sequence().indexWhere($ < 0)"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(
        run("sequence().take(250)"),
        Err(Error::CollectionTooLarge(200))
    );
    assert_eq!(run("sequence().takeWhile($ < 3)"), Ok(json!([0, 1, 2])));
    // Iterators have no indexer in yaql.
    assert_eq!(
        run("sequence()[5]"),
        Err(Error::NoMatchingFunction("#indexer".into()))
    );
    assert_eq!(
        run("range(1000).take(3)"),
        Ok(json!([0, 1, 2])),
        "lazy consumers read only a prefix, as in yaql"
    );
}

#[test]
fn input_collections_over_the_limit_are_refused_when_consumed() {
    let big: Vec<i64> = (0..300).collect();
    let result = evaluate("$.data.sum()", &json!(big), &Limits::default());
    assert_eq!(result, Err(Error::CollectionTooLarge(200)));
}

#[test]
fn memory_quota() {
    assert_eq!(run("'x' * 20000"), Err(Error::MemoryQuota));
    assert_eq!(run("[1, 2, 3] * 1000"), Err(Error::MemoryQuota));
    assert!(run("'x' * 100").is_ok());
}

#[test]
fn exponential_growth_is_stopped() {
    // Doubling a string 150 times would need 2^150 bytes.
    let err = run("range(150).aggregate($1 + $1, 'xx')").unwrap_err();
    assert_eq!(
        err,
        Error::StringTooLarge(Limits::default().max_string_bytes)
    );
    // Nested queries multiply work; the step budget bounds it.
    let limits = Limits {
        max_steps: 10_000,
        ..Limits::default()
    };
    let err = evaluate(
        "range(200).select(range(200).select(range(200).sum()).sum()).sum()",
        &json!(null),
        &limits,
    )
    .unwrap_err();
    assert_eq!(err, Error::StepBudget(10_000));
}

#[test]
fn deep_nesting_is_refused_at_parse_time() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(run(&deep), Err(Error::TooDeep(100)));
    let long_chain = vec!["1"; 5_000].join(" + ");
    assert_eq!(run(&long_chain), Err(Error::TooDeep(100)));
    let methods = format!("$.data.list{}", ".select($)".repeat(500));
    assert_eq!(run(&methods), Err(Error::TooDeep(100)));
    let negations = format!("{}1", "-".repeat(10_000));
    assert_eq!(run(&negations), Err(Error::TooDeep(100)));
    let limits = Limits {
        max_expression_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        parse_with_limits("1 + 2 + 3 + 4", &limits),
        Err(Error::ExpressionTooLong(10))
    );
}

#[test]
fn values_cannot_grow_deep() {
    // Each aggregate step wraps the accumulator once more.
    let err = run("range(200).aggregate([[$1]], 0)").unwrap_err();
    assert_eq!(err, Error::ValueTooDeep(256));
    let mut deep = json!(1);
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let err = evaluate("$.data", &deep, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::ValueTooDeep(256));
    // At the limit, comparing, printing and dropping the value is fine.
    let result = run("let(v => range(150).aggregate([$1], 0)) -> [$v = $v, str($v).len()]");
    assert_eq!(result, Ok(json!([true, 451])));
}

#[test]
fn nesting_at_the_limit_evaluates_without_overflowing_the_stack() {
    // 90 levels of nested lambdas and parentheses on a 2 MiB test thread.
    let expression = format!("{}$.data.s{}", "[".repeat(90), "]".repeat(90));
    assert!(run(&expression).is_ok());
    let recursion_paths = [
        ("[1].select(", ")"),
        ("[1].where(", ")"),
        ("[[1]].orderBy(", ")"),
        ("[1].aggregate($1 + ", ", 0)"),
        ("switch(true => ", ")"),
        ("coalesce(", ")"),
        ("let(a => 1) -> ", ""),
        ("{a => [1]}.mergeWith({a => [2]}, listMerger => ", ")"),
        ("[1].groupBy(", ")"),
        ("[1].any(", ")"),
    ];
    for (open, close) in recursion_paths {
        // As deep as the parser allows for this shape.
        let mut levels = 1;
        while parse_with_limits(
            &format!("{}1{}", open.repeat(levels + 1), close.repeat(levels + 1)),
            &Limits::default(),
        )
        .is_ok()
        {
            levels += 1;
        }
        assert!(levels >= 30, "{open}: only {levels} levels parse");
        let nested = format!("{}1{}", open.repeat(levels), close.repeat(levels));
        let result = run(&nested);
        assert!(
            !matches!(result, Err(Error::TooDeep(_))),
            "{open}: {result:?}"
        );
    }
}

/// Fragments that make plausible YAQL so the generator reaches the
/// evaluator, not only the lexer.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$".to_string()),
        Just("$.data".to_string()),
        Just(".list".to_string()),
        Just(".select(".to_string()),
        Just(".where(".to_string()),
        Just("range(".to_string()),
        Just("sequence()".to_string()),
        Just(".aggregate($1 + $2".to_string()),
        Just("let(a => ".to_string()),
        Just(") -> $a".to_string()),
        Just(".repeat(".to_string()),
        Just(".join(".to_string()),
        Just("regex(".to_string()),
        Just("*".to_string()),
        Just("+".to_string()),
        Just(" mod ".to_string()),
        Just(" and ".to_string()),
        Just(" not ".to_string()),
        Just("=>".to_string()),
        Just("?.".to_string()),
        Just(",".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("'x'".to_string()),
        Just("1000".to_string()),
        Just("-1".to_string()),
        Just("2.5".to_string()),
        Just("null".to_string()),
        "[a-zA-Z]{1,8}\\(".prop_map(|s| s),
        "[ -~]{0,4}".prop_map(|s| s),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(expression in "\\PC{0,60}") {
        let _ = run(&expression);
    }

    /// Fragment soups terminate (the step budget bounds them), and evaluation refuses exactly
    /// what the parser refuses.
    #[test]
    fn arbitrary_expressions_terminate_and_parse_errors_agree(parts in prop::collection::vec(fragment(), 0..24)) {
        let expression = parts.concat();
        let limits = Limits { max_steps: 50_000, ..Limits::default() };
        let result = evaluate(&expression, &json!({"list": [1, 2, 3], "s": "abc"}), &limits);
        let parsed = parse_with_limits(&expression, &limits);
        prop_assert_eq!(
            parsed.is_err(),
            result.as_ref().err().is_some_and(Error::is_parse_error),
            "{}: {:?} / {:?}", expression, parsed.err(), result
        );
    }

    /// Integer arithmetic follows yaql's precedence and Python's integer semantics.
    #[test]
    fn integer_arithmetic_is_pythons(a in -10_000i64..10_000, b in -10_000i64..10_000, c in 1i64..1_000) {
        let expression = format!("{a} + {b} * {c} - ({a} mod {c}) + {b} / {c}");
        // Python's % and // take the sign of the divisor (floor division).
        let expected = a + b * c - a.rem_euclid(c) + b.div_euclid(c);
        prop_assert_eq!(run(&expression), Ok(json!(expected)), "{}", expression);
    }
}
