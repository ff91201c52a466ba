//! The evaluator: expression nodes, operators, contexts and lambdas.
//! The standard functions live in `library.rs`.

use crate::library::{self, Param, Params};
use crate::parser::{Arg, BinaryOp, Expr, UnaryOp};
use crate::pyvalue::{contains, key_of, lookup_key, no_match, py_cmp, py_eq, py_size, truthy, Num};
use crate::{Error, Limits};
use serde_json::{Map, Value};
use std::cmp::Ordering;

pub(crate) fn run(expr: &Expr, root: Value, limits: &Limits) -> Result<Value, Error> {
    let mut machine = Machine {
        limits,
        steps: 0,
        depth: 0,
        regexes: Vec::new(),
    };
    let scope = Scope {
        vars: vec![(String::new(), root)],
        parent: None,
    };
    machine.check_value_depth(&scope.vars[0].1)?;
    let result = machine.eval(expr, &scope)?;
    machine.check_output(&result)?;
    Ok(result)
}

/// Context variables: `$` is stored under the empty name, `$1` under "1".
pub(crate) struct Scope<'p> {
    pub vars: Vec<(String, Value)>,
    pub parent: Option<&'p Scope<'p>>,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.parent.and_then(|p| p.lookup(name)))
    }
}

pub(crate) struct Machine<'l> {
    pub limits: &'l Limits,
    steps: u64,
    depth: usize,
    /// Compiled patterns by (pattern, flags), so a predicate such as
    /// `where($ =~ 'x')` compiles its pattern once per evaluation.
    pub regexes: Vec<((String, [bool; 3]), regex::Regex)>,
}

impl Machine<'_> {
    /// Charges `n` units of work against the step budget.
    pub(crate) fn tick(&mut self, n: u64) -> Result<(), Error> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            Err(Error::StepBudget(self.limits.max_steps))
        } else {
            Ok(())
        }
    }

    /// yaql's memory quota over the values an operation builds.
    pub(crate) fn charge_memory<'v>(
        &self,
        values: impl IntoIterator<Item = (usize, &'v Value)>,
    ) -> Result<(), Error> {
        let mut total = 0usize;
        for (times, value) in values {
            total = total.saturating_add(times.saturating_mul(py_size(value)));
            if total > self.limits.max_memory_bytes {
                return Err(Error::MemoryQuota);
            }
        }
        Ok(())
    }

    /// Refuses values nested deeper than `max_value_depth` (walked
    /// iteratively, one step per container).
    pub(crate) fn check_value_depth(&mut self, value: &Value) -> Result<(), Error> {
        let mut pending = vec![(value, 1usize)];
        while let Some((value, depth)) = pending.pop() {
            if depth > self.limits.max_value_depth {
                return Err(Error::ValueTooDeep(self.limits.max_value_depth));
            }
            self.tick(1)?;
            let children: Box<dyn Iterator<Item = &Value>> = match value {
                Value::Array(items) => Box::new(items.iter()),
                Value::Object(map) => Box::new(map.values()),
                _ => continue,
            };
            pending.extend(
                children
                    .filter(|c| c.is_array() || c.is_object())
                    .map(|c| (c, depth + 1)),
            );
        }
        Ok(())
    }

    /// Refuses strings over `max_string_bytes` before they are built.
    pub(crate) fn check_string_len(&mut self, len: usize) -> Result<(), Error> {
        if len > self.limits.max_string_bytes {
            return Err(Error::StringTooLarge(self.limits.max_string_bytes));
        }
        self.tick(len as u64 / 64)
    }

    /// A collection argument as yaql's `Iterable` parameter type takes it:
    /// a list no longer than `max_iterations`.
    pub(crate) fn collection(
        &mut self,
        value: &Value,
        function: &str,
    ) -> Result<Vec<Value>, Error> {
        match value {
            Value::Array(items) => {
                if items.len() > self.limits.max_iterations {
                    return Err(Error::CollectionTooLarge(self.limits.max_iterations));
                }
                self.tick(items.len() as u64)?;
                Ok(items.clone())
            }
            _ => Err(no_match(function)),
        }
    }

    /// Like [`Machine::collection`] for functions that read only a prefix
    /// (`take`, `first`, `zip`...), which yaql runs lazily: an endless
    /// `sequence()` is fine there.
    pub(crate) fn prefix_collection(
        &mut self,
        value: &Value,
        function: &str,
    ) -> Result<Vec<Value>, Error> {
        match value {
            Value::Array(items) => {
                self.tick(items.len() as u64)?;
                Ok(items.clone())
            }
            _ => Err(no_match(function)),
        }
    }

    /// The result must fit yaql's output limiter: every collection in it
    /// at most `max_iterations` long.
    fn check_output(&mut self, value: &Value) -> Result<(), Error> {
        self.tick(1)?;
        match value {
            Value::Array(items) => {
                if items.len() > self.limits.max_iterations {
                    return Err(Error::CollectionTooLarge(self.limits.max_iterations));
                }
                items.iter().try_for_each(|v| self.check_output(v))
            }
            Value::Object(map) => {
                if library::is_regex(value) {
                    return Err(Error::Runtime(
                        "a regular expression object cannot be a result".into(),
                    ));
                }
                if map.len() > self.limits.max_iterations {
                    return Err(Error::CollectionTooLarge(self.limits.max_iterations));
                }
                map.values().try_for_each(|v| self.check_output(v))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn eval(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Value, Error> {
        self.tick(1)?;
        self.depth += 1;
        let result = if self.depth > self.limits.max_depth.saturating_mul(2) {
            Err(Error::TooDeep(self.limits.max_depth))
        } else {
            self.eval_node(expr, scope)
        };
        self.depth -= 1;
        result
    }

    fn eval_node(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Value, Error> {
        match expr {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Keyword(k) => Ok(Value::String(k.clone())),
            Expr::Variable(name) => Ok(scope.lookup(name).cloned().unwrap_or(Value::Null)),
            Expr::Call { name, .. }
                if matches!(
                    name.as_str(),
                    "orderBy" | "orderByDescending" | "thenBy" | "thenByDescending"
                ) =>
            {
                library::ordering(self, expr, scope)
            }
            Expr::Call {
                name,
                receiver,
                args,
            } => {
                let receiver = match receiver {
                    Some(r) => Some(self.eval(r, scope)?),
                    None => None,
                };
                self.call(name, receiver, args, scope)
            }
            Expr::Dot {
                left,
                right,
                null_safe,
            } => {
                let receiver = self.eval(left, scope)?;
                if *null_safe && receiver.is_null() {
                    return Ok(Value::Null);
                }
                self.dot(receiver, right, scope)
            }
            Expr::Index { target, args } => {
                let target_expr = target;
                let target = self.eval(target, scope)?;
                // Query results are lazy iterators and `keys()`/`values()`/
                // `items()` dict views in yaql; neither has an indexer
                // (`x.where(...)[0]` fails there; `first()` works).
                let unindexable = library::yields_iterator(target_expr)
                    || matches!(&**target_expr, Expr::Call { name, .. }
                        if matches!(name.as_str(), "keys" | "values" | "items"));
                if target.is_array() && unindexable {
                    return Err(no_match("#indexer"));
                }
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    match arg {
                        Arg::Positional(e) => values.push(self.eval(e, scope)?),
                        Arg::Named(..) => return Err(no_match("#indexer")),
                    }
                }
                index(&target, &values, self.limits.max_iterations)
            }
            Expr::Unary { op, operand } => {
                let value = self.eval(operand, scope)?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!self.truthy_result(operand, &value))),
                    UnaryOp::Plus => match Num::of(&value) {
                        Some(_) => Ok(value),
                        None => Err(no_match("#unary_operator_+")),
                    },
                    UnaryOp::Minus => match Num::of(&value) {
                        Some(Num::Int(i)) => i.checked_neg().map(Value::from).ok_or_else(overflow),
                        Some(Num::Float(f)) => Num::Float(-f).into_value(),
                        None => Err(no_match("#unary_operator_-")),
                    },
                }
            }
            Expr::Binary { op, left, right } => self.binary(*op, left, right, scope),
            Expr::List(args) => {
                let mut items = Vec::with_capacity(args.len());
                for arg in args {
                    match arg {
                        Arg::Positional(e) => items.push(self.eval(e, scope)?),
                        Arg::Named(..) => return Err(no_match("#list")),
                    }
                }
                self.charge_memory(items.iter().map(|v| (1, v)))?;
                Ok(Value::Array(items))
            }
            Expr::Map(args) => {
                let pairs = self.mapping_rules(args, scope, "#map")?;
                self.dict_from_pairs(pairs)
            }
        }
    }

    /// Evaluates `name => value` arguments into key/value pairs (`{}` and
    /// `dict(...)`): a bare-word key is its own text.
    pub(crate) fn mapping_rules(
        &mut self,
        args: &[Arg],
        scope: &Scope<'_>,
        function: &str,
    ) -> Result<Vec<(Value, Value)>, Error> {
        let mut pairs = Vec::with_capacity(args.len());
        for arg in args {
            let Arg::Named(key, value) = arg else {
                return Err(no_match(function));
            };
            let key = self.eval(key, scope)?;
            let value = self.eval(value, scope)?;
            pairs.push((key, value));
        }
        Ok(pairs)
    }

    pub(crate) fn dict_from_pairs(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, Error> {
        let mut map = Map::new();
        for (key, value) in pairs {
            self.charge_memory([(1, &key), (1, &value)])?;
            map.insert(key_of(&key), value);
        }
        let dict = Value::Object(map);
        self.charge_memory([(1, &dict)])?;
        Ok(dict)
    }

    /// Python truthiness of an operand of `not`, `and`, `or`: a query
    /// result is a lazy iterator in yaql, and iterators are always true,
    /// even when they would yield nothing.
    fn truthy_result(&self, expr: &Expr, value: &Value) -> bool {
        truthy(value) || (value.is_array() && library::yields_iterator(expr))
    }

    /// `receiver.right` where `right` is not a plain method call.
    fn dot(&mut self, receiver: Value, right: &Expr, scope: &Scope<'_>) -> Result<Value, Error> {
        match right {
            Expr::Keyword(key) => self.attribute(&receiver, key),
            // `x?.f()` keeps the call unattached at parse time.
            Expr::Call {
                name,
                receiver: None,
                args,
            } => self.call(name, Some(receiver), args, scope),
            // yaql only evaluates method calls and keys after a dot.
            _ => Err(no_match("#operator_.")),
        }
    }

    /// `dict.key`, or `list.key` = the key of every element.
    fn attribute(&mut self, receiver: &Value, key: &str) -> Result<Value, Error> {
        match receiver {
            Value::Object(map) if !library::is_regex(receiver) => map
                .get(key)
                .cloned()
                .ok_or_else(|| Error::Runtime(format!("Key '{key}' not found"))),
            Value::Array(_) => {
                let items = self.collection(receiver, "#operator_.")?;
                let mut out = Vec::with_capacity(items.len());
                for item in &items {
                    out.push(self.attribute(item, key)?);
                }
                Ok(Value::Array(out))
            }
            _ => Err(Error::Runtime(format!(
                "No method \"#operator_.\" for receiver {} matches supplied arguments",
                crate::pyvalue::py_repr(receiver)
            ))),
        }
    }

    /// Evaluates `body` with `$` and `$1`, `$2`, ... bound to `args`.
    pub(crate) fn call_lambda(
        &mut self,
        body: &Expr,
        scope: &Scope<'_>,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut vars = Vec::with_capacity(args.len() + 1);
        if let Some(first) = args.first() {
            vars.push((String::new(), first.clone()));
        }
        for (i, arg) in args.iter().enumerate() {
            vars.push(((i + 1).to_string(), arg.clone()));
        }
        let child = Scope {
            vars,
            parent: Some(scope),
        };
        self.eval(body, &child)
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        scope: &Scope<'_>,
    ) -> Result<Value, Error> {
        match op {
            BinaryOp::And => {
                let l = self.eval(left, scope)?;
                if self.truthy_result(left, &l) {
                    self.eval(right, scope)
                } else {
                    Ok(l)
                }
            }
            BinaryOp::Or => {
                let l = self.eval(left, scope)?;
                if self.truthy_result(left, &l) {
                    Ok(l)
                } else {
                    self.eval(right, scope)
                }
            }
            BinaryOp::Pass => {
                let vars = self.context_of(left, scope)?;
                let child = Scope {
                    vars,
                    parent: Some(scope),
                };
                self.eval(right, &child)
            }
            _ => {
                let l = self.eval(left, scope)?;
                let r = self.eval(right, scope)?;
                self.operator(op, &l, &r)
            }
        }
    }

    /// The context object the left side of `->` builds: `let(...)`,
    /// `with(...)` or `seq.unpack(...)`.
    fn context_of(
        &mut self,
        expr: &Expr,
        scope: &Scope<'_>,
    ) -> Result<Vec<(String, Value)>, Error> {
        let Expr::Call {
            name,
            receiver,
            args,
        } = expr
        else {
            return Err(no_match("#operator_->"));
        };
        let mut vars = Vec::new();
        match (name.as_str(), receiver) {
            ("let" | "with", None) => {
                let mut position = 0;
                for arg in args {
                    match arg {
                        Arg::Positional(e) => {
                            position += 1;
                            let value = self.eval(e, scope)?;
                            vars.push((position.to_string(), value));
                        }
                        Arg::Named(Expr::Keyword(k), e) if name == "let" => {
                            let value = self.eval(e, scope)?;
                            vars.push((k.clone(), value));
                        }
                        Arg::Named(..) => return Err(no_match(name)),
                    }
                }
            }
            ("unpack", Some(receiver)) => {
                let sequence = self.eval(receiver, scope)?;
                let items = self.collection(&sequence, "unpack")?;
                let mut names = Vec::new();
                for arg in args {
                    match arg {
                        Arg::Positional(e) => match self.eval(e, scope)? {
                            Value::String(s) => names.push(s),
                            _ => return Err(no_match("unpack")),
                        },
                        Arg::Named(..) => return Err(no_match("unpack")),
                    }
                }
                if names.is_empty() {
                    names = (1..=items.len()).map(|i| i.to_string()).collect();
                } else if names.len() != items.len() {
                    return Err(Error::Runtime(format!(
                        "Cannot unpack {} elements into {}",
                        items.len(),
                        names.len()
                    )));
                }
                vars.extend(names.into_iter().zip(items));
            }
            _ => return Err(no_match("#operator_->")),
        }
        Ok(vars)
    }

    pub(crate) fn operator(&mut self, op: BinaryOp, l: &Value, r: &Value) -> Result<Value, Error> {
        let compare = |ordering: Result<Ordering, Error>, test: fn(Ordering) -> bool| {
            ordering.map(|o| Value::Bool(test(o)))
        };
        match op {
            BinaryOp::Eq => Ok(Value::Bool(py_eq(l, r))),
            BinaryOp::Ne => Ok(Value::Bool(!py_eq(l, r))),
            BinaryOp::Lt => compare(py_cmp(l, r, "#operator_<"), Ordering::is_lt),
            BinaryOp::Le => compare(py_cmp(l, r, "#operator_<="), Ordering::is_le),
            BinaryOp::Gt => compare(py_cmp(l, r, "#operator_>"), Ordering::is_gt),
            BinaryOp::Ge => compare(py_cmp(l, r, "#operator_>="), Ordering::is_ge),
            BinaryOp::In => match r {
                Value::Array(_) => {
                    self.collection(r, "#operator_in")?;
                    Ok(Value::Bool(contains(r, l)))
                }
                Value::String(_) if l.is_string() => Ok(Value::Bool(contains(r, l))),
                _ => Err(no_match("#operator_in")),
            },
            BinaryOp::Add => self.add(l, r),
            BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                self.arithmetic(op, l, r)
            }
            BinaryOp::Matches | BinaryOp::NotMatches => {
                let found = library::regex_operator(self, l, r)?;
                Ok(Value::Bool(found == (op == BinaryOp::Matches)))
            }
            BinaryOp::And | BinaryOp::Or | BinaryOp::Pass => Err(no_match("operator")),
        }
    }

    /// `+`: numbers, string concatenation, list concatenation, dict union.
    pub(crate) fn add(&mut self, l: &Value, r: &Value) -> Result<Value, Error> {
        match (l, r) {
            (Value::String(a), Value::String(b)) => {
                self.check_string_len(a.len() + b.len())?;
                Ok(Value::String(format!("{a}{b}")))
            }
            (Value::Array(a), Value::Array(b)) => {
                self.charge_memory([(1, l), (1, r)])?;
                let mut out = a.clone();
                out.extend(b.iter().cloned());
                Ok(Value::Array(out))
            }
            (Value::Object(a), Value::Object(b)) => {
                self.charge_memory([(1, l), (1, r)])?;
                let mut out = a.clone();
                for (k, v) in b {
                    out.insert(k.clone(), v.clone());
                }
                Ok(Value::Object(out))
            }
            _ => self.arithmetic(BinaryOp::Add, l, r),
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, l: &Value, r: &Value) -> Result<Value, Error> {
        let symbol = match op {
            BinaryOp::Add => "#operator_+",
            BinaryOp::Sub => "#operator_-",
            BinaryOp::Mul => "#operator_*",
            BinaryOp::Div => "#operator_/",
            _ => "#operator_mod",
        };
        if op == BinaryOp::Mul {
            if let Some(repeated) = self.repeat_sequence(l, r)? {
                return Ok(repeated);
            }
        }
        let (Some(a), Some(b)) = (Num::of(l), Num::of(r)) else {
            return Err(no_match(symbol));
        };
        let zero = || Error::Runtime("division by zero".into());
        match (a, b) {
            (Num::Int(x), Num::Int(y)) => {
                let result = match op {
                    BinaryOp::Add => x.checked_add(y),
                    BinaryOp::Sub => x.checked_sub(y),
                    BinaryOp::Mul => x.checked_mul(y),
                    // Python's floor division and modulo.
                    BinaryOp::Div => {
                        if y == 0 {
                            return Err(zero());
                        }
                        x.checked_div_euclid(y).map(|_| {
                            let q = x / y;
                            if (x % y != 0) && ((x < 0) != (y < 0)) {
                                q - 1
                            } else {
                                q
                            }
                        })
                    }
                    _ => {
                        if y == 0 {
                            return Err(zero());
                        }
                        x.checked_rem(y).map(|m| {
                            if m != 0 && ((m < 0) != (y < 0)) {
                                m + y
                            } else {
                                m
                            }
                        })
                    }
                };
                result.map(Value::from).ok_or_else(overflow)
            }
            (a, b) => {
                let (x, y) = (a.as_f64(), b.as_f64());
                let result = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => {
                        if y == 0.0 {
                            return Err(zero());
                        }
                        x / y
                    }
                    _ => {
                        if y == 0.0 {
                            return Err(zero());
                        }
                        let m = x % y;
                        if m != 0.0 && ((m < 0.0) != (y < 0.0)) {
                            m + y
                        } else {
                            m
                        }
                    }
                };
                Num::Float(result).into_value()
            }
        }
    }

    /// `"ab" * 2`, `2 * [1]`: repetition, under the memory quota.
    fn repeat_sequence(&mut self, l: &Value, r: &Value) -> Result<Option<Value>, Error> {
        let (sequence, times) = match (l, r) {
            (Value::String(_) | Value::Array(_), Value::Number(_) | Value::Bool(_)) => (l, r),
            (Value::Number(_) | Value::Bool(_), Value::String(_) | Value::Array(_)) => (r, l),
            _ => return Ok(None),
        };
        // Python's bool is an int: `'ab' * true` is 'ab'.
        let times = match times {
            Value::Bool(b) => i64::from(*b),
            other => match Num::of(other) {
                Some(Num::Int(i)) => i,
                _ => return Err(no_match("#operator_*")),
            },
        };
        let times = usize::try_from(times).unwrap_or(0);
        self.charge_memory([(times, sequence)])?;
        Ok(Some(match sequence {
            Value::String(s) => {
                self.check_string_len(s.len().saturating_mul(times))?;
                Value::String(s.repeat(times))
            }
            Value::Array(items) => {
                self.tick(items.len().saturating_mul(times) as u64)?;
                let mut out = Vec::with_capacity(items.len() * times);
                for _ in 0..times {
                    out.extend(items.iter().cloned());
                }
                Value::Array(out)
            }
            _ => return Ok(None),
        }))
    }

    /// A function or method call. The receiver (if any) is the first
    /// parameter; lambda parameters stay unevaluated.
    fn call(
        &mut self,
        name: &str,
        receiver: Option<Value>,
        args: &[Arg],
        scope: &Scope<'_>,
    ) -> Result<Value, Error> {
        if let Some(result) = library::special_form(self, name, receiver.as_ref(), args, scope)? {
            return Ok(result);
        }
        let has_receiver = receiver.is_some();
        let mut params = Params {
            name: name.to_string(),
            has_receiver,
            positional: Vec::new(),
            named: Vec::new(),
        };
        if let Some(r) = receiver {
            params.positional.push(Param::Value(r));
        }
        let positional_count = usize::from(has_receiver)
            + args
                .iter()
                .filter(|a| matches!(a, Arg::Positional(_)))
                .count();
        for arg in args {
            match arg {
                Arg::Positional(e) => {
                    let index = params.positional.len();
                    let param = if library::is_lambda_position(name, index, positional_count) {
                        Param::Lambda(e)
                    } else {
                        Param::Value(self.eval(e, scope)?)
                    };
                    params.positional.push(param);
                }
                Arg::Named(Expr::Keyword(key), e) => {
                    let param = if library::is_lambda_keyword(name, key) {
                        Param::Lambda(e)
                    } else {
                        Param::Value(self.eval(e, scope)?)
                    };
                    params.named.push((key.clone(), param));
                }
                Arg::Named(..) => return Err(no_match(name)),
            }
        }
        library::call(self, &params, scope)
    }
}

fn overflow() -> Error {
    Error::Runtime("integer overflow".into())
}

/// `target[i]` on lists and strings, `target[key]` and
/// `target[key, default]` on dicts.
fn index(target: &Value, args: &[Value], max_iterations: usize) -> Result<Value, Error> {
    match (target, args) {
        (Value::Array(items), [i]) => {
            let Some(Num::Int(i)) = Num::of(i) else {
                return Err(no_match("#indexer"));
            };
            match python_index(items.len(), i).map(|i| &items[i]) {
                Some(item) if library::is_truncation_mark(item) => {
                    Err(Error::CollectionTooLarge(max_iterations))
                }
                Some(item) => Ok(item.clone()),
                None if items.last().is_some_and(library::is_truncation_mark) => {
                    Err(Error::CollectionTooLarge(max_iterations))
                }
                None => Err(Error::Runtime("list index out of range".into())),
            }
        }
        (Value::Object(map), [key]) if !library::is_regex(target) => {
            map.get(&key_of(key)).cloned().ok_or_else(|| {
                Error::Runtime(format!("Key {} not found", crate::pyvalue::py_repr(key)))
            })
        }
        (Value::Object(map), [key, default]) => Ok(lookup_key(key)
            .and_then(|k| map.get(k))
            .cloned()
            .unwrap_or_else(|| default.clone())),
        _ => Err(no_match("#indexer")),
    }
}

/// A Python index (negative counts from the end) into a sequence of `len`.
pub(crate) fn python_index(len: usize, i: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}
