//! ember-yaql: the YAQL expression language used by Heat's `yaql`
//! intrinsic function, evaluated over `serde_json::Value`.
//!
//! `evaluate(expression, data, limits)` runs the expression with the context
//! root `$` set to `{"data": data}`, as Heat does, so `$.data.x` reads the
//! data. Every evaluation is bounded: collections by `max_iterations`
//! (yaql's `limitIterators`), built values by `max_memory_bytes` (yaql's
//! `memoryQuota`, measured like CPython's `sys.getsizeof`), strings by
//! `max_string_bytes`, work by `max_steps`, and nesting by `max_depth`.

mod eval;
mod lexer;
mod library;
mod parser;
mod pyvalue;

pub use parser::{Arg, BinaryOp, Expr, UnaryOp};
use serde_json::Value;

/// Bounds on parsing and evaluation. `Default` gives Heat's `[yaql]`
/// defaults (`limit_iterators = 200`, `memory_quota = 10000`) plus the
/// guards yaql leaves to Python (steps, nesting, string size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest collection a function may consume or the result may hold
    /// (Heat's `limit_iterators`).
    pub max_iterations: usize,
    /// Quota for the collections and repeated strings yaql measures, in
    /// estimated CPython bytes (Heat's `memory_quota`).
    pub max_memory_bytes: usize,
    /// Largest string any operation may build (yaql itself has no such
    /// bound on `+`, `join` or `replace`; this keeps them finite).
    pub max_string_bytes: usize,
    /// Evaluation steps (expression nodes, lambda calls and elements
    /// processed) before evaluation stops.
    pub max_steps: u64,
    /// Deepest expression tree accepted by the parser.
    pub max_depth: usize,
    /// Deepest nesting of lists and dicts in the input data or in a value
    /// carried across `aggregate` steps.
    pub max_value_depth: usize,
    /// Longest expression text accepted by the parser.
    pub max_expression_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iterations: 200,
            max_memory_bytes: 10_000,
            max_string_bytes: 1 << 20,
            max_steps: 1_000_000,
            max_depth: 100,
            max_value_depth: 256,
            max_expression_bytes: 64 * 1024,
        }
    }
}

/// Why an expression could not be parsed or evaluated. Parse and lexical
/// messages are yaql's own text, which Heat puts after `Bad expression `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("Lexical error: illegal character '{character}' at position {position}")]
    Lexical { character: char, position: usize },
    #[error(
        "Parse error: unexpected '{token}' at position {position} of expression '{expression}'"
    )]
    Parse {
        token: String,
        position: usize,
        expression: String,
    },
    #[error("Parse error: unexpected end of statement")]
    UnexpectedEnd,
    #[error("Parse error: expression nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("Parse error: expression is longer than {0} bytes")]
    ExpressionTooLong(usize),
    #[error("Value nests deeper than {0} levels")]
    ValueTooDeep(usize),
    #[error("Unknown function \"{0}\"")]
    UnknownFunction(String),
    #[error("No function \"{0}\" matches supplied arguments")]
    NoMatchingFunction(String),
    #[error("Collection length exceeds {0} elements")]
    CollectionTooLarge(usize),
    #[error("Expression consumed too much memory")]
    MemoryQuota,
    #[error("String length exceeds {0} bytes")]
    StringTooLarge(usize),
    #[error("Expression exceeded its budget of {0} evaluation steps")]
    StepBudget(u64),
    /// A runtime failure with Python's meaning (missing key, bad index,
    /// division by zero, failed conversion, ...).
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// True for errors raised by `parse` (the expression text is wrong),
    /// as opposed to evaluation failures.
    pub fn is_parse_error(&self) -> bool {
        matches!(
            self,
            Error::Lexical { .. }
                | Error::Parse { .. }
                | Error::UnexpectedEnd
                | Error::TooDeep(_)
                | Error::ExpressionTooLong(_)
        )
    }
}

/// Parses an expression with the default limits (for validation at
/// template-parse time).
pub fn parse(expression: &str) -> Result<Expr, Error> {
    parser::parse_with_limits(expression, &Limits::default())
}

/// Parses an expression with explicit limits.
pub fn parse_with_limits(expression: &str, limits: &Limits) -> Result<Expr, Error> {
    parser::parse_with_limits(expression, limits)
}

/// Parses and evaluates `expression` with `$` = `{"data": data}`.
pub fn evaluate(expression: &str, data: &Value, limits: &Limits) -> Result<Value, Error> {
    let expr = parse_with_limits(expression, limits)?;
    evaluate_expr(&expr, data, limits)
}

/// Evaluates an already parsed expression with `$` = `{"data": data}`.
pub fn evaluate_expr(expr: &Expr, data: &Value, limits: &Limits) -> Result<Value, Error> {
    let mut root = serde_json::Map::new();
    root.insert("data".into(), data.clone());
    eval::run(expr, Value::Object(root), limits)
}
