//! Template versions: which version key and value a template declares, and what each version
//! allows (sections, resource keys, functions, condition functions, deletion policies).

use crate::error::{ErrorKind, TemplateError};
use crate::node::{Location, Node, NodeValue, Path};

/// Every template format Heat registers, oldest HOT first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Hot20130523,
    Hot20141016,
    Hot20150430,
    Hot20151015,
    Hot20160408,
    Hot20161014,
    Hot20170224,
    Hot20170901,
    Hot20180302,
    Hot20180831,
    Hot20210416,
    /// `HeatTemplateFormatVersion: 2012-12-12`: CFN syntax without conditions.
    Heat20121212,
    /// `AWSTemplateFormatVersion: 2010-09-09`.
    Aws20100909,
}

pub const HOT_KEY: &str = "heat_template_version";
pub const HEAT_CFN_KEY: &str = "HeatTemplateFormatVersion";
pub const AWS_KEY: &str = "AWSTemplateFormatVersion";

const ALL: [Version; 13] = [
    Version::Aws20100909,
    Version::Heat20121212,
    Version::Hot20130523,
    Version::Hot20141016,
    Version::Hot20150430,
    Version::Hot20151015,
    Version::Hot20160408,
    Version::Hot20161014,
    Version::Hot20170224,
    Version::Hot20170901,
    Version::Hot20180302,
    Version::Hot20180831,
    Version::Hot20210416,
];

impl Version {
    pub fn all() -> &'static [Version] {
        &ALL
    }

    pub fn is_hot(self) -> bool {
        !matches!(self, Version::Heat20121212 | Version::Aws20100909)
    }

    /// The top-level key that declares this version.
    pub fn key(self) -> &'static str {
        match self {
            Version::Aws20100909 => AWS_KEY,
            Version::Heat20121212 => HEAT_CFN_KEY,
            _ => HOT_KEY,
        }
    }

    /// The dated value of the version key.
    pub fn date(self) -> &'static str {
        match self {
            Version::Hot20130523 => "2013-05-23",
            Version::Hot20141016 => "2014-10-16",
            Version::Hot20150430 => "2015-04-30",
            Version::Hot20151015 => "2015-10-15",
            Version::Hot20160408 => "2016-04-08",
            Version::Hot20161014 => "2016-10-14",
            Version::Hot20170224 => "2017-02-24",
            Version::Hot20170901 => "2017-09-01",
            Version::Hot20180302 => "2018-03-02",
            Version::Hot20180831 => "2018-08-31",
            Version::Hot20210416 => "2021-04-16",
            Version::Heat20121212 => "2012-12-12",
            Version::Aws20100909 => "2010-09-09",
        }
    }

    /// Release-name aliases of the version value.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Version::Hot20161014 => &["newton"],
            Version::Hot20170224 => &["ocata"],
            Version::Hot20170901 => &["pike"],
            Version::Hot20180302 => &["queens"],
            Version::Hot20180831 => &["rocky"],
            Version::Hot20210416 => &["wallaby"],
            _ => &[],
        }
    }

    /// `key.date`, as Heat names template plugins (`heat_template_version.2016-10-14`).
    pub fn name(self) -> String {
        format!("{}.{}", self.key(), self.date())
    }

    /// Looks a plugin name (`heat_template_version.2016-10-14` or an alias such as
    /// `heat_template_version.newton`) up.
    pub fn from_name(name: &str) -> Option<Version> {
        let (key, value) = name.split_once('.')?;
        Version::from_key_value(key, value)
    }

    fn from_key_value(key: &str, value: &str) -> Option<Version> {
        ALL.iter()
            .copied()
            .find(|v| v.key() == key && (v.date() == value || v.aliases().contains(&value)))
    }

    /// Whether the version has a conditions section (`conditions` / `Conditions`).
    pub fn has_conditions(self) -> bool {
        self >= Version::Hot20161014 && self.is_hot() || self == Version::Aws20100909
    }

    /// The top-level sections the version accepts.
    pub fn sections(self) -> &'static [&'static str] {
        match self {
            Version::Aws20100909 => &[
                AWS_KEY,
                HEAT_CFN_KEY,
                "Description",
                "Mappings",
                "Parameters",
                "Resources",
                "Outputs",
                "Conditions",
            ],
            Version::Heat20121212 => &[
                AWS_KEY,
                HEAT_CFN_KEY,
                "Description",
                "Mappings",
                "Parameters",
                "Resources",
                "Outputs",
            ],
            v if v >= Version::Hot20161014 => &[
                HOT_KEY,
                "description",
                "parameter_groups",
                "parameters",
                "resources",
                "outputs",
                "conditions",
            ],
            _ => &[
                HOT_KEY,
                "description",
                "parameter_groups",
                "parameters",
                "resources",
                "outputs",
            ],
        }
    }

    /// The resource keys the version accepts.
    pub fn resource_keys(self) -> &'static [&'static str] {
        match self {
            Version::Aws20100909 => &[
                "Type",
                "Properties",
                "Metadata",
                "DependsOn",
                "DeletionPolicy",
                "UpdatePolicy",
                "Description",
                "Condition",
            ],
            Version::Heat20121212 => &[
                "Type",
                "Properties",
                "Metadata",
                "DependsOn",
                "DeletionPolicy",
                "UpdatePolicy",
                "Description",
            ],
            v if v >= Version::Hot20161014 => &[
                "type",
                "properties",
                "metadata",
                "depends_on",
                "deletion_policy",
                "update_policy",
                "description",
                "external_id",
                "condition",
            ],
            _ => &[
                "type",
                "properties",
                "metadata",
                "depends_on",
                "deletion_policy",
                "update_policy",
                "description",
            ],
        }
    }

    /// The output keys the version accepts.
    pub fn output_keys(self) -> &'static [&'static str] {
        match self {
            Version::Aws20100909 => &["Description", "Value", "Condition"],
            Version::Heat20121212 => &["Description", "Value"],
            v if v >= Version::Hot20161014 => &["description", "value", "condition"],
            _ => &["description", "value"],
        }
    }

    /// Deletion policies as written in the template, mapped to their canonical names.
    pub fn deletion_policy(self, written: &str) -> Option<&'static str> {
        let canonical = match written {
            "Delete" => "Delete",
            "Retain" => "Retain",
            "Snapshot" => "Snapshot",
            "delete" | "retain" | "snapshot" if self.is_hot() && self >= Version::Hot20161014 => {
                match written {
                    "delete" => "Delete",
                    "retain" => "Retain",
                    _ => "Snapshot",
                }
            }
            _ => return None,
        };
        Some(canonical)
    }

    /// The intrinsic functions of the version, including the removed ones (which parse but fail
    /// validation), in Heat's registration order.
    pub fn functions(self) -> Vec<(&'static str, Func)> {
        use Func::*;
        use Version::*;
        match self {
            Aws20100909 | Heat20121212 => {
                let mut f = vec![
                    ("Fn::FindInMap", FindInMap),
                    ("Fn::GetAZs", GetAzs),
                    ("Ref", Ref),
                    ("Fn::GetAtt", CfnGetAtt),
                    ("Fn::Select", Select),
                    ("Fn::Join", ListJoin(JoinForm::Single)),
                    ("Fn::Split", Split),
                    ("Fn::Replace", CfnReplace),
                    ("Fn::Base64", Base64),
                    ("Fn::MemberListToMap", MemberListToMap),
                    ("Fn::ResourceFacade", ResourceFacade(FacadeNames::Cfn)),
                ];
                if self == Aws20100909 {
                    f.push(("Fn::If", If { nullable: false }));
                }
                f
            }
            Hot20130523 => vec![
                ("Fn::GetAZs", GetAzs),
                ("get_param", GetParam),
                ("get_resource", GetResource),
                ("Ref", Ref),
                ("get_attr", GetAttr(AttrForm::ThenSelect)),
                ("Fn::Select", Select),
                ("Fn::Join", ListJoin(JoinForm::Single)),
                ("list_join", ListJoin(JoinForm::Single)),
                ("Fn::Split", Split),
                ("str_replace", StrReplace(ReplaceForm::Plain)),
                ("Fn::Replace", CfnReplace),
                ("Fn::Base64", Base64),
                ("Fn::MemberListToMap", MemberListToMap),
                ("resource_facade", ResourceFacade(FacadeNames::Hot)),
                ("Fn::ResourceFacade", ResourceFacade(FacadeNames::Cfn)),
                ("get_file", GetFile),
            ],
            v => {
                let mut f = vec![
                    (
                        "get_attr",
                        GetAttr(if v >= Hot20151015 {
                            AttrForm::AllAttributes
                        } else {
                            AttrForm::Path
                        }),
                    ),
                    ("get_file", GetFile),
                    ("get_param", GetParam),
                    ("get_resource", GetResource),
                    (
                        "list_join",
                        ListJoin(if v >= Hot20151015 {
                            JoinForm::Multiple
                        } else {
                            JoinForm::Single
                        }),
                    ),
                ];
                if v >= Hot20150430 {
                    let form = if v >= Hot20170901 {
                        RepeatForm::NestedLoop
                    } else if v >= Hot20161014 {
                        RepeatForm::WithMap
                    } else {
                        RepeatForm::Lists
                    };
                    f.push(("repeat", Repeat(form)));
                }
                f.push(("resource_facade", ResourceFacade(FacadeNames::Hot)));
                f.push((
                    "str_replace",
                    StrReplace(if v >= Hot20151015 {
                        ReplaceForm::Json
                    } else {
                        ReplaceForm::Plain
                    }),
                ));
                f.push((
                    "Fn::Select",
                    if v >= Hot20151015 { Removed } else { Select },
                ));
                if v >= Hot20150430 {
                    f.push(("digest", Digest));
                }
                if v >= Hot20151015 {
                    f.push(("str_split", StrSplit));
                }
                if v >= Hot20160408 {
                    f.push(("map_merge", MapMerge));
                }
                if v >= Hot20161014 {
                    f.push(("yaql", Yaql));
                    f.push(("map_replace", MapReplace));
                    f.push((
                        "if",
                        If {
                            nullable: v >= Hot20210416,
                        },
                    ));
                }
                if v >= Hot20170224 {
                    f.push(("filter", Filter));
                    f.push(("str_replace_strict", StrReplace(ReplaceForm::Strict)));
                }
                if v >= Hot20170901 {
                    f.push(("make_url", MakeUrl));
                    f.push(("list_concat", ListConcat { unique: false }));
                    f.push(("str_replace_vstrict", StrReplace(ReplaceForm::VeryStrict)));
                    f.push(("list_concat_unique", ListConcat { unique: true }));
                    f.push(("contains", Contains));
                }
                for removed in [
                    "Fn::GetAZs",
                    "Fn::Join",
                    "Fn::Split",
                    "Fn::Replace",
                    "Fn::Base64",
                    "Fn::MemberListToMap",
                    "Fn::ResourceFacade",
                    "Ref",
                ] {
                    f.push((removed, Removed));
                }
                f
            }
        }
    }

    /// The functions allowed inside condition definitions (empty when the version has none).
    pub fn condition_functions(self) -> Vec<(&'static str, Func)> {
        use Func::*;
        match self {
            Version::Aws20100909 => vec![
                ("Fn::Equals", Equals),
                ("Ref", ParamRef),
                ("Fn::FindInMap", FindInMap),
                ("Fn::Not", Not { cfn: true }),
                ("Fn::And", And),
                ("Fn::Or", Or),
            ],
            v if v.is_hot() && v >= Version::Hot20161014 => {
                let mut f = vec![
                    ("get_param", GetParam),
                    ("equals", Equals),
                    ("not", Not { cfn: false }),
                    ("and", And),
                    ("or", Or),
                ];
                if v >= Version::Hot20170901 {
                    f.push(("yaql", Yaql));
                    f.push(("contains", Contains));
                }
                f
            }
            _ => Vec::new(),
        }
    }

    /// The function a name denotes in a context: in conditions every ordinary function that is
    /// not removed is invalid, and the condition functions take precedence.
    pub fn lookup(self, name: &str, context: FnContext) -> Option<Func> {
        let tables = function_tables();
        let index = ALL.iter().position(|v| *v == self).unwrap_or(0);
        let (functions, conditions) = &tables[index];
        let find = |table: &[(&'static str, Func)]| {
            table.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
        };
        if context == FnContext::Condition {
            if let Some(f) = find(conditions) {
                return Some(f);
            }
            return find(functions).map(|f| if f == Func::Removed { f } else { Func::Invalid });
        }
        find(functions)
    }

    /// Reads the version from a template's top-level map, with Heat's messages.
    pub fn detect(template: &Node, file: &str) -> Result<Version, TemplateError> {
        let entries = template.as_map().unwrap_or_default();
        let present: Vec<&(Node, Node)> = entries
            .iter()
            .filter(|(k, v)| {
                matches!(k.as_str(), Some(HOT_KEY | HEAT_CFN_KEY | AWS_KEY))
                    && matches!(v.value, NodeValue::String(_))
            })
            .collect();
        let location = |node: &Node, key: &str| {
            Location::new(file, node.span, Path::root().child(key.to_string()))
        };
        match present.as_slice() {
            [] => Err(TemplateError::new(
                ErrorKind::InvalidVersion,
                Location::in_file(file),
                "The template version is invalid: Template version was not provided",
            )),
            [(key, value)] => {
                let key = key.as_str().unwrap_or_default();
                let value_text = value.as_str().unwrap_or_default();
                Version::from_key_value(key, value_text).ok_or_else(|| {
                    let mut available: Vec<&str> = ALL
                        .iter()
                        .filter(|v| v.key() == key)
                        .flat_map(|v| std::iter::once(v.date()).chain(v.aliases().iter().copied()))
                        .collect();
                    available.sort_unstable();
                    let explanation = if available.len() > 1 {
                        format!(
                            "\"{key}: {value_text}\". \"{key}\" should be one of: {}",
                            available.join(", ")
                        )
                    } else {
                        format!(
                            "\"{key}: {value_text}\". \"{key}\" should be: {}",
                            available.join(", ")
                        )
                    };
                    TemplateError::new(
                        ErrorKind::InvalidVersion,
                        location(value, key),
                        format!("The template version is invalid: {explanation}"),
                    )
                })
            }
            several => {
                let keys: Vec<&str> = several.iter().filter_map(|(k, _)| k.as_str()).collect();
                Err(TemplateError::new(
                    ErrorKind::InvalidVersion,
                    location(&several[1].0, keys[1]),
                    format!(
                        "The template version is invalid: Ambiguous versions ({})",
                        keys.join(", ")
                    ),
                ))
            }
        }
    }
}

type FunctionTable = Vec<(&'static str, Func)>;

/// The function and condition-function tables of every version (in `ALL` order), built once:
/// looking a name up happens for every single-key map of every template.
fn function_tables() -> &'static [(FunctionTable, FunctionTable)] {
    static TABLES: std::sync::OnceLock<Vec<(FunctionTable, FunctionTable)>> =
        std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        ALL.iter()
            .map(|v| (v.functions(), v.condition_functions()))
            .collect()
    })
}

/// Where a snippet is parsed: ordinary values, or condition definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnContext {
    Value,
    Condition,
}

/// An intrinsic function with the per-version variant of its semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    GetParam,
    GetResource,
    GetAttr(AttrForm),
    GetFile,
    StrReplace(ReplaceForm),
    ListJoin(JoinForm),
    ResourceFacade(FacadeNames),
    Repeat(RepeatForm),
    Digest,
    StrSplit,
    MapMerge,
    MapReplace,
    Yaql,
    If {
        nullable: bool,
    },
    Filter,
    MakeUrl,
    ListConcat {
        unique: bool,
    },
    Contains,
    Equals,
    Not {
        cfn: bool,
    },
    And,
    Or,
    /// CFN `Ref`: a resource when one of that name exists, else a parameter.
    Ref,
    /// CFN `Ref` in conditions: parameters only.
    ParamRef,
    CfnGetAtt,
    Select,
    Split,
    CfnReplace,
    Base64,
    GetAzs,
    MemberListToMap,
    FindInMap,
    /// A function this version removed: the template fails validation.
    Removed,
    /// An ordinary function used inside a condition definition.
    Invalid,
}

/// `get_attr` forms: 2013-05-23 selects the path in the attribute value itself; later versions
/// pass the path to the resource; from 2015-10-15 `[resource]` alone gives all attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrForm {
    ThenSelect,
    Path,
    AllAttributes,
}

/// `str_replace` forms: before 2015-10-15 only scalar values; after, lists and maps are
/// JSON-encoded; strict forms also require every key to occur (and, very strict, be non-empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplaceForm {
    Plain,
    Json,
    Strict,
    VeryStrict,
}

/// `list_join` forms: one list of strings, or (2015-10-15+) several lists of any items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinForm {
    Single,
    Multiple,
}

/// `repeat` forms: lists only; lists or maps (2016-10-14); plus `permutations` (2017-09-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepeatForm {
    Lists,
    WithMap,
    NestedLoop,
}

/// Which spelling of the facade attributes a `resource_facade` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacadeNames {
    Hot,
    Cfn,
}

/// One row of Heat's `/template_versions` answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    pub version: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub aliases: Vec<String>,
}

/// The template versions, as Heat's `/template_versions` lists them.
pub fn template_versions() -> Vec<VersionInfo> {
    let mut versions: Vec<VersionInfo> = ALL
        .iter()
        .map(|v| VersionInfo {
            version: v.name(),
            kind: if v.is_hot() { "hot" } else { "cfn" },
            aliases: v
                .aliases()
                .iter()
                .map(|a| format!("{}.{a}", v.key()))
                .collect(),
        })
        .collect();
    versions.sort_by(|a, b| a.version.cmp(&b.version));
    versions
}

/// One row of Heat's `/template_versions/{v}/functions` answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionInfo {
    pub functions: String,
    pub description: String,
}

/// The functions of a version (by plugin name, aliases allowed), without the removed ones; with
/// `with_condition`, the condition functions too. `None` when the version does not exist (Heat
/// answers `Template with version X not found`).
pub fn template_functions(version_name: &str, with_condition: bool) -> Option<Vec<FunctionInfo>> {
    let version = Version::from_name(version_name)?;
    let mut out: Vec<FunctionInfo> = Vec::new();
    let mut add = |name: &str, f: Func| {
        if f == Func::Removed {
            return;
        }
        match out.iter_mut().find(|i| i.functions == name) {
            Some(existing) => existing.description = f.description().to_string(),
            None => out.push(FunctionInfo {
                functions: name.to_string(),
                description: f.description().to_string(),
            }),
        }
    };
    for (name, f) in version.functions() {
        add(name, f);
    }
    if with_condition {
        for (name, f) in version.condition_functions() {
            add(name, f);
        }
    }
    Some(out)
}

impl Func {
    /// The description Heat's function list gives (the summary line of its function's docs):
    /// clients compare it as API text, so it is Heat's wording.
    pub fn description(self) -> &'static str {
        match self {
            Func::GetParam => "A function for resolving parameter references.",
            Func::GetResource => "A function for resolving resource references.",
            Func::GetAttr(AttrForm::AllAttributes) => {
                "A function for resolving resource attributes."
            }
            Func::GetAttr(_) => "A function for resolving resource attributes.",
            Func::GetFile => "A function for including a file inline.",
            Func::StrReplace(ReplaceForm::Plain) => {
                "A function for performing string substitutions."
            }
            Func::StrReplace(ReplaceForm::Json) => {
                "A function for performing string substitutions."
            }
            Func::StrReplace(ReplaceForm::Strict) => {
                "A function for performing string substitutions."
            }
            Func::StrReplace(ReplaceForm::VeryStrict) => {
                "A function for performing string substitutions."
            }
            Func::ListJoin(JoinForm::Single) => "A function for joining strings.",
            Func::ListJoin(JoinForm::Multiple) => {
                "A function for joining one or more lists of strings."
            }
            Func::ResourceFacade(_) => {
                "A function for retrieving data in a parent provider template."
            }
            Func::Repeat(RepeatForm::Lists) => "A function for iterating over a list of items.",
            Func::Repeat(RepeatForm::WithMap) => {
                "A function for iterating over a list of items or a dict of keys."
            }
            Func::Repeat(RepeatForm::NestedLoop) => {
                "A function for iterating over a list of items or a dict of keys."
            }
            Func::Digest => "A function for performing digest operations.",
            Func::StrSplit => "A function for splitting delimited strings into a list.",
            Func::MapMerge => "A function for merging maps.",
            Func::MapReplace => "A function for performing substitutions on maps.",
            Func::Yaql => "A function for executing a yaql expression.",
            Func::If { .. } => {
                "A function to return corresponding value based on condition evaluation."
            }
            Func::Filter => "A function for filtering out values from lists.",
            Func::MakeUrl => "A function for performing substitutions on maps.",
            Func::ListConcat { unique: false } => "A function for extending lists.",
            Func::ListConcat { unique: true } => {
                "A function for extending lists with unique items."
            }
            Func::Contains => "A function for checking whether specific value is in sequence.",
            Func::Equals => "A function for comparing whether two values are equal.",
            Func::Not { .. } => "A function that acts as a NOT operator on a condition.",
            Func::And => "A function that acts as an AND operator on conditions.",
            Func::Or => "A function that acts as an OR operator on conditions.",
            Func::Ref => "A function for resolving parameters or resource references.",
            Func::ParamRef => "A function for resolving parameter references.",
            Func::CfnGetAtt => "A function for resolving resource attributes.",
            Func::Select => "A function for selecting an item from a list or map.",
            Func::Split => "A function for splitting strings.",
            Func::CfnReplace => "A function for performing string substitutions.",
            Func::Base64 => "A placeholder function for converting to base64.",
            Func::GetAzs => "A function for retrieving the availability zones.",
            Func::MemberListToMap => {
                "A function to convert lists with enumerated keys and values to mapping."
            }
            Func::FindInMap => "A function for resolving keys in the template mappings.",
            Func::Removed => {
                "This function existed in previous versions of HOT, but has been removed."
            }
            Func::Invalid => "A function for checking condition functions and to force failures.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{parse_document, Limits};

    fn detect(text: &str) -> Result<Version, TemplateError> {
        let node = parse_document(text, "t.yaml", &Limits::default()).unwrap();
        Version::detect(&node, "t.yaml")
    }

    #[test]
    fn unquoted_dates_and_aliases_are_versions() {
        assert_eq!(
            detect("heat_template_version: 2013-05-23\n").unwrap(),
            Version::Hot20130523
        );
        assert_eq!(
            detect("heat_template_version: wallaby\n").unwrap(),
            Version::Hot20210416
        );
        assert_eq!(
            detect("AWSTemplateFormatVersion: '2010-09-09'\n").unwrap(),
            Version::Aws20100909
        );
    }

    #[test]
    fn function_descriptions_are_heats() {
        let functions = template_functions("heat_template_version.2016-04-08", false).unwrap();
        let described = |name: &str| {
            functions
                .iter()
                .find(|f| f.functions == name)
                .map(|f| f.description.as_str())
        };
        assert_eq!(
            described("get_file"),
            Some("A function for including a file inline.")
        );
        assert_eq!(
            described("list_join"),
            Some("A function for joining one or more lists of strings.")
        );
    }

    #[test]
    fn version_errors_use_heats_text() {
        assert_eq!(
            detect("heat_template_version: 2099-01-01\n")
                .unwrap_err()
                .message,
            "The template version is invalid: \"heat_template_version: 2099-01-01\". \
             \"heat_template_version\" should be one of: 2013-05-23, 2014-10-16, 2015-04-30, \
             2015-10-15, 2016-04-08, 2016-10-14, 2017-02-24, 2017-09-01, 2018-03-02, 2018-08-31, \
             2021-04-16, newton, ocata, pike, queens, rocky, wallaby"
        );
        assert_eq!(
            detect("AWSTemplateFormatVersion: 2010-09-10\n")
                .unwrap_err()
                .message,
            "The template version is invalid: \"AWSTemplateFormatVersion: 2010-09-10\". \
             \"AWSTemplateFormatVersion\" should be: 2010-09-09"
        );
        assert_eq!(
            detect("description: x\n").unwrap_err().message,
            "The template version is invalid: Template version was not provided"
        );
        assert!(detect(
            "heat_template_version: 2015-04-30\nHeatTemplateFormatVersion: 2012-12-12\n"
        )
        .unwrap_err()
        .message
        .starts_with("The template version is invalid: Ambiguous versions ("));
        for text in [
            "heat_template_version: 2099-01-01\n",
            "description: x\n",
            "heat_template_version: 2015-04-30\nHeatTemplateFormatVersion: 2012-12-12\n",
        ] {
            assert_eq!(
                detect(text).unwrap_err().kind,
                ErrorKind::InvalidVersion,
                "{text}"
            );
        }
        // A number is not a candidate version value.
        assert!(detect("heat_template_version: 2015\n").is_err());
    }

    #[test]
    fn function_sets_follow_the_version_table() {
        let has = |v: Version, name: &str| {
            v.functions()
                .iter()
                .any(|(n, f)| *n == name && *f != Func::Removed)
        };
        assert!(has(Version::Hot20130523, "Fn::Join"));
        assert!(!has(Version::Hot20141016, "Fn::Join"));
        assert!(has(Version::Hot20150430, "Fn::Select"));
        assert!(!has(Version::Hot20151015, "Fn::Select"));
        assert!(!has(Version::Hot20150430, "str_split"));
        assert!(has(Version::Hot20160408, "map_merge"));
        assert!(!has(Version::Hot20160408, "if"));
        assert!(has(Version::Hot20170224, "filter"));
        assert!(!has(Version::Hot20170224, "contains"));
        assert!(has(Version::Hot20170901, "make_url"));
        assert_eq!(
            Version::Hot20210416.lookup("if", FnContext::Value),
            Some(Func::If { nullable: true })
        );
        assert_eq!(
            Version::Hot20161014.lookup("get_resource", FnContext::Condition),
            Some(Func::Invalid)
        );
        assert_eq!(
            Version::Hot20161014.lookup("Ref", FnContext::Condition),
            Some(Func::Removed)
        );
        assert_eq!(
            Version::Hot20161014.lookup("equals", FnContext::Value),
            None
        );
    }

    #[test]
    fn versions_list_matches_heats_api() {
        let versions = template_versions();
        assert_eq!(versions.len(), 13);
        assert_eq!(versions[0].version, "AWSTemplateFormatVersion.2010-09-09");
        assert_eq!(versions[0].kind, "cfn");
        let newton = versions
            .iter()
            .find(|v| v.version == "heat_template_version.2016-10-14")
            .unwrap();
        assert_eq!(
            newton.aliases,
            vec!["heat_template_version.newton".to_string()]
        );
        let fns = template_functions("heat_template_version.2016-10-14", true).unwrap();
        assert!(fns.iter().any(|f| f.functions == "equals"));
        assert!(!fns.iter().any(|f| f.functions == "Ref"));
        assert!(template_functions("heat_template_version.1999-01-01", false).is_none());
    }
}
