//! The YAQL grammar: a precedence-climbing parser producing [`Expr`].
//!
//! Operator precedence, tightest first, as yaql's standard operator table
//! defines it: `.` `?.`; indexer `[...]`; unary `+` `-`; `=~` `!~`;
//! `*` `/` `mod`; `+` `-`; comparisons `>` `<` `>=` `<=` `!=` `=` `in`;
//! `not`; `and`; `or`; `->` (right-associative). `name => value` only
//! appears as an argument (keyword argument or mapping rule).

use crate::lexer::{tokenize, Tok, Token};
use crate::{Error, Limits};
use serde_json::Value;

/// A parsed YAQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number, string, boolean or null literal.
    Literal(Value),
    /// A bare word: a key after `.`, a keyword-argument name, or a string.
    Keyword(String),
    /// `$`, `$name`, `$1`: a context variable (the name after the dollar).
    Variable(String),
    /// `name(args)`, or `receiver.name(args)` when `receiver` is set.
    Call {
        name: String,
        receiver: Option<Box<Expr>>,
        args: Vec<Arg>,
    },
    /// `left.right` where `right` is not a call: key access on dicts,
    /// attribute of every element on lists, or `right` evaluated with
    /// `$` bound to `left`. `null_safe` is the `?.` form.
    Dot {
        left: Box<Expr>,
        right: Box<Expr>,
        null_safe: bool,
    },
    /// `target[args]`.
    Index {
        target: Box<Expr>,
        args: Vec<Arg>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `[a, b]`.
    List(Vec<Arg>),
    /// `{k => v, ...}`.
    Map(Vec<Arg>),
}

/// One argument of a call, list or map literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Positional(Expr),
    /// `name => value`: a keyword argument when `name` is a bare word, or a
    /// mapping rule (`switch`, `dict`, `{}`) otherwise.
    Named(Expr, Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Plus,
    Minus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Matches,
    NotMatches,
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Gt,
    Lt,
    Ge,
    Le,
    Ne,
    Eq,
    In,
    And,
    Or,
    /// `->`: evaluate the right side in the context the left side builds.
    Pass,
}

const PREC_PASS: u8 = 1;
const PREC_NOT: u8 = 5;
const PREC_UNARY: u8 = 10;

fn binary_op(op: &str) -> Option<(BinaryOp, u8)> {
    Some(match op {
        "->" => (BinaryOp::Pass, PREC_PASS),
        "or" => (BinaryOp::Or, 2),
        "and" => (BinaryOp::And, 3),
        // 4 is unused so that `not` (5) sits between `and` and comparisons.
        ">" => (BinaryOp::Gt, 6),
        "<" => (BinaryOp::Lt, 6),
        ">=" => (BinaryOp::Ge, 6),
        "<=" => (BinaryOp::Le, 6),
        "!=" => (BinaryOp::Ne, 6),
        "=" => (BinaryOp::Eq, 6),
        "in" => (BinaryOp::In, 6),
        "+" => (BinaryOp::Add, 7),
        "-" => (BinaryOp::Sub, 7),
        "*" => (BinaryOp::Mul, 8),
        "/" => (BinaryOp::Div, 8),
        "mod" => (BinaryOp::Mod, 8),
        "=~" => (BinaryOp::Matches, 9),
        "!~" => (BinaryOp::NotMatches, 9),
        _ => return None,
    })
}

/// Parses `expression` into an [`Expr`], refusing trees nested deeper than
/// `limits.max_depth` (so that evaluating and dropping them cannot exhaust
/// the stack).
pub fn parse_with_limits(expression: &str, limits: &Limits) -> Result<Expr, Error> {
    if expression.len() > limits.max_expression_bytes {
        return Err(Error::ExpressionTooLong(limits.max_expression_bytes));
    }
    let tokens = tokenize(expression)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        expression,
        max_depth: limits.max_depth,
    };
    let (expr, _) = parser.expression(PREC_PASS, 0)?;
    if parser.pos < parser.tokens.len() {
        return Err(parser.unexpected());
    }
    Ok(expr)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    expression: &'a str,
    max_depth: usize,
}

/// A parsed node with the depth of its tree.
type Node = (Expr, usize);

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn unexpected(&self) -> Error {
        match self.tokens.get(self.pos) {
            None => Error::UnexpectedEnd,
            Some(t) => Error::Parse {
                token: t.text.clone(),
                position: t.position,
                expression: self.expression.to_string(),
            },
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), Error> {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn check_depth(&self, depth: usize) -> Result<usize, Error> {
        if depth > self.max_depth {
            Err(Error::TooDeep(self.max_depth))
        } else {
            Ok(depth)
        }
    }

    /// Parses operators binding at least as tightly as `min_prec`.
    /// `nesting` counts the recursion of this parser itself.
    fn expression(&mut self, min_prec: u8, nesting: usize) -> Result<Node, Error> {
        self.check_depth(nesting)?;
        let (mut left, mut depth) = self.prefix(nesting)?;
        while let Some(op) = self.peek_op() {
            let Some((bin, prec)) = binary_op(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            // `->` is right-associative; everything else is left-associative.
            let next_min = if bin == BinaryOp::Pass {
                prec
            } else {
                prec + 1
            };
            let (right, right_depth) = self.expression(next_min, nesting + 1)?;
            depth = self.check_depth(depth.max(right_depth) + 1)?;
            left = Expr::Binary {
                op: bin,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok((left, depth))
    }

    fn prefix(&mut self, nesting: usize) -> Result<Node, Error> {
        let unary = match self.peek_op() {
            Some("-") => Some((UnaryOp::Minus, PREC_UNARY)),
            Some("+") => Some((UnaryOp::Plus, PREC_UNARY)),
            Some("not") => Some((UnaryOp::Not, PREC_NOT)),
            _ => None,
        };
        if let Some((op, prec)) = unary {
            self.pos += 1;
            let (operand, depth) = self.expression(prec, nesting + 1)?;
            let depth = self.check_depth(depth + 1)?;
            return Ok((
                Expr::Unary {
                    op,
                    operand: Box::new(operand),
                },
                depth,
            ));
        }
        self.postfix(nesting)
    }

    /// A primary followed by any number of `.x`, `?.x` and `[...]`.
    fn postfix(&mut self, nesting: usize) -> Result<Node, Error> {
        let (mut expr, mut depth) = self.primary(nesting)?;
        loop {
            match self.peek_op() {
                Some(op @ ("." | "?.")) => {
                    self.pos += 1;
                    // yaql's grammar takes any value after the dot, so a
                    // prefix operator there parses (and fails at run time).
                    let (right, right_depth) = if matches!(self.peek_op(), Some("not" | "-" | "+"))
                    {
                        self.prefix(nesting + 1)?
                    } else {
                        self.primary(nesting)?
                    };
                    depth = self.check_depth(depth.max(right_depth) + 1)?;
                    expr = match right {
                        Expr::Call {
                            name,
                            receiver: None,
                            args,
                        } if op == "." => Expr::Call {
                            name,
                            receiver: Some(Box::new(expr)),
                            args,
                        },
                        right => Expr::Dot {
                            left: Box::new(expr),
                            right: Box::new(right),
                            null_safe: op == "?.",
                        },
                    };
                }
                Some("[") => {
                    self.pos += 1;
                    let (args, args_depth) = self.args("]", nesting)?;
                    depth = self.check_depth(depth.max(args_depth) + 1)?;
                    expr = Expr::Index {
                        target: Box::new(expr),
                        args,
                    };
                }
                _ => return Ok((expr, depth)),
            }
        }
    }

    fn primary(&mut self, nesting: usize) -> Result<Node, Error> {
        let Some(token) = self.tokens.get(self.pos) else {
            return Err(Error::UnexpectedEnd);
        };
        let tok = token.tok.clone();
        self.pos += 1;
        match tok {
            Tok::Literal(v) => Ok((Expr::Literal(v), 1)),
            Tok::Keyword(k) => Ok((Expr::Keyword(k), 1)),
            Tok::Dollar(name) => Ok((Expr::Variable(name), 1)),
            Tok::Func(name) => {
                let (args, depth) = self.args(")", nesting)?;
                Ok((
                    Expr::Call {
                        name,
                        receiver: None,
                        args,
                    },
                    self.check_depth(depth + 1)?,
                ))
            }
            Tok::Op("(") => {
                let (inner, depth) = self.expression(PREC_PASS, nesting + 1)?;
                self.expect(")")?;
                Ok((inner, depth))
            }
            Tok::Op("[") => {
                let (args, depth) = self.args("]", nesting)?;
                Ok((Expr::List(args), self.check_depth(depth + 1)?))
            }
            Tok::Op("{") => {
                let (args, depth) = self.args("}", nesting)?;
                Ok((Expr::Map(args), self.check_depth(depth + 1)?))
            }
            Tok::Op(_) => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    /// Comma-separated arguments up to `close`; positional arguments may
    /// not follow named ones.
    fn args(&mut self, close: &str, nesting: usize) -> Result<(Vec<Arg>, usize), Error> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek_op() == Some(close) {
            self.pos += 1;
            return Ok((args, depth));
        }
        loop {
            let value_start = self.pos;
            let (value, value_depth) = self.expression(PREC_PASS, nesting + 1)?;
            depth = depth.max(value_depth);
            if self.peek_op() == Some("=>") {
                self.pos += 1;
                let (target, target_depth) = self.expression(PREC_PASS, nesting + 1)?;
                depth = depth.max(target_depth);
                args.push(Arg::Named(value, target));
            } else if matches!(args.last(), Some(Arg::Named(..))) {
                // yaql's grammar has no rule for a positional argument
                // after a named one.
                self.pos = value_start;
                return Err(self.unexpected());
            } else {
                args.push(Arg::Positional(value));
            }
            match self.peek_op() {
                Some(",") => self.pos += 1,
                Some(op) if op == close => {
                    self.pos += 1;
                    return Ok((args, depth));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }
}
