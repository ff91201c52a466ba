//! Located document trees.
//!
//! Every template and environment is loaded into a [`Node`] tree before anything else looks at it,
//! so that every later error can name the file, line, column and path of the node it is about.

use std::fmt;
use std::sync::Arc;

/// A position in a source document, 1-based as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

/// A scalar, list or map from a YAML or JSON document, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub span: Span,
}

/// The value of a [`Node`]. Scalars are typed as PyYAML (YAML 1.1) types them, because Heat loads
/// templates with PyYAML; YAML timestamps stay strings, as Heat's loader makes them.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Node>),
    /// Keys in document order. A key is kept as a node so that errors about it are located too.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: NodeValue, span: Span) -> Self {
        Self { value, span }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under a string key of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key as Heat sees it: map keys are compared as strings.
    pub fn key_text(&self) -> String {
        match &self.value {
            NodeValue::String(s) => s.clone(),
            NodeValue::Null => "None".to_string(),
            other => Node::new(other.clone(), self.span).to_json().to_string(),
        }
    }

    /// [`Node::key_text`], moving a string key's text out instead of copying it.
    pub fn into_key_text(self) -> String {
        match self.value {
            NodeValue::String(s) => s,
            _ => self.key_text(),
        }
    }

    /// A name for the node's type, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "boolean",
            NodeValue::Int(_) | NodeValue::Float(_) => "number",
            NodeValue::String(_) => "string",
            NodeValue::List(_) => "list",
            NodeValue::Map(_) => "map",
        }
    }

    /// The node as plain JSON data, dropping locations.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds an unlocated node from JSON data (values that did not come from a document, such as
    /// parameters given on the command line).
    pub fn from_json(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        let v = match value {
            Value::Null => NodeValue::Null,
            Value::Bool(b) => NodeValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => NodeValue::Int(i),
                None => NodeValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => NodeValue::String(s.clone()),
            Value::Array(items) => NodeValue::List(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => NodeValue::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Node::new(NodeValue::String(k.clone()), Span::default()),
                            Node::from_json(v),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(v, Span::default())
    }
}

/// A path into a document, such as `resources.web_server.properties.flavor`, as Heat prints it.
///
/// Stored as links to a shared parent, so that extending a path or cloning it (every located
/// call and reference holds one) costs one small allocation or a reference count, not a copy of
/// every segment.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Path(Option<Arc<PathLink>>);

#[derive(PartialEq, Eq, Hash)]
struct PathLink {
    parent: Path,
    segment: String,
}

impl Path {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn child(&self, segment: impl Into<String>) -> Self {
        Self(Some(Arc::new(PathLink {
            parent: self.clone(),
            segment: segment.into(),
        })))
    }

    /// The path of the `index`th item of a list, shown as Heat shows it (`networks[0]`).
    pub fn index(&self, index: usize) -> Self {
        self.child(format!("[{index}]"))
    }

    /// The segments from the root down.
    pub fn segments(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut at = self;
        while let Some(link) = &at.0 {
            out.push(link.segment.as_str());
            at = &link.parent;
        }
        out.reverse();
        out
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Path").field(&self.segments()).finish()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments().iter().enumerate() {
            if i > 0 && !segment.starts_with('[') {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

/// Where an error is: file, line, column and path. Every template-crate error carries one.
///
/// The file name is shared: every located call of a template holds one, so cloning it is a
/// reference count, not a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub span: Span,
    pub path: Path,
}

impl Location {
    /// A location naming only the file, for errors about the document as a whole.
    pub fn in_file(file: impl Into<Arc<str>>) -> Self {
        Self {
            file: file.into(),
            span: Span::default(),
            path: Path::root(),
        }
    }

    pub fn new(file: impl Into<Arc<str>>, span: Span, path: Path) -> Self {
        Self {
            file: file.into(),
            span,
            path,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.span.line, self.span.column)?;
        if !self.path.segments().is_empty() {
            write!(f, " at {}", self.path)?;
        }
        Ok(())
    }
}
