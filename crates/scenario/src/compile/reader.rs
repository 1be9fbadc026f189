//! Typed, path-aware reading of a `serde_json::Value` that records problems instead of
//! stopping at the first one.
//!
//! Why not `#[serde(deny_unknown_fields)]` structs: serde stops at the first problem and
//! loses the path, and a scenario author wants every problem at once, each with its path.

use serde_json::{Map, Value};

use crate::error::Diagnostic;
use crate::expression::{Expression, Function, Template};

/// A JSON path: `script[3].options.timeout`, `script[1].case["1"][0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JsonPath(String);

impl JsonPath {
    /// A path already written out (an action's stored path).
    pub fn raw(text: &str) -> JsonPath {
        JsonPath(text.to_owned())
    }

    pub fn key(&self, key: &str) -> JsonPath {
        let plain = key
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let segment = if plain {
            key.to_owned()
        } else {
            format!("[{}]", Value::String(key.to_owned()))
        };
        if self.0.is_empty() || !plain {
            JsonPath(format!("{}{segment}", self.0))
        } else {
            JsonPath(format!("{}.{segment}", self.0))
        }
    }

    pub fn index(&self, index: usize) -> JsonPath {
        JsonPath(format!("{}[{index}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Errors and warnings collected during one compilation, and the variable reads seen on
/// the way (for the "read but never set" check).
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Every variable a template reads, with the template's path.
    pub reads: Vec<(String, JsonPath)>,
    /// Every `isOpen('name')` with a literal name: the name, the template's path and the
    /// column of `isOpen` in it (checked against [`CompileOptions::schedules`]).
    ///
    /// [`CompileOptions::schedules`]: super::CompileOptions::schedules
    pub schedule_uses: Vec<(String, JsonPath, usize)>,
}

impl Diagnostics {
    pub fn error(&mut self, path: &JsonPath, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            path: path.0.clone(),
            message: message.into(),
        });
    }

    pub fn warning(&mut self, path: &JsonPath, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            path: path.0.clone(),
            message: message.into(),
        });
    }
}

/// Reads the keys of one JSON object; [`ObjectReader::finish`] reports the keys nobody read.
pub(crate) struct ObjectReader<'a> {
    map: &'a Map<String, Value>,
    path: JsonPath,
    known: Vec<&'static str>,
    /// Keys accepted by pattern (46elks' per-digit keys) rather than by name.
    known_owned: Vec<String>,
}

impl<'a> ObjectReader<'a> {
    pub fn new(map: &'a Map<String, Value>, path: JsonPath) -> Self {
        ObjectReader {
            map,
            path,
            known: Vec::new(),
            known_owned: Vec::new(),
        }
    }

    pub fn path(&self) -> &JsonPath {
        &self.path
    }

    /// The value of `key` (if present) and its path; `key` becomes a known key.
    pub fn get(&mut self, key: &'static str) -> Option<(&'a Value, JsonPath)> {
        self.known.push(key);
        self.map.get(key).map(|value| (value, self.path.key(key)))
    }

    /// Like [`get`](Self::get), but a missing key is an error.
    pub fn required(
        &mut self,
        diagnostics: &mut Diagnostics,
        key: &'static str,
    ) -> Option<(&'a Value, JsonPath)> {
        let found = self.get(key);
        if found.is_none() {
            diagnostics.error(&self.path, format!("missing required key `{key}`"));
        }
        found
    }

    /// Accepts `key` without reading it.
    pub fn allow(&mut self, key: &'static str) {
        self.known.push(key);
    }

    /// Accepts a key known only at run time of the compiler (a pattern match).
    pub fn allow_owned(&mut self, key: &str) {
        self.known_owned.push(key.to_owned());
    }

    /// Every key of the object, read or not.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.map.keys().map(String::as_str)
    }

    /// The value of `key` without marking it known.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// Reports every key that was neither read nor allowed.
    pub fn finish(self, diagnostics: &mut Diagnostics) {
        for key in self.map.keys() {
            if self.known.contains(&key.as_str()) || self.known_owned.contains(key) {
                continue;
            }
            let mut message = format!("unknown key `{key}`");
            if let Some(suggestion) = closest(key, &self.known) {
                message.push_str(&format!(" (did you mean `{suggestion}`?)"));
            }
            diagnostics.error(&self.path.key(key), message);
        }
    }
}

/// A short description of a JSON value's type, for "expected X, found Y".
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("a boolean ({flag})"),
        Value::Number(number) => format!("a number ({number})"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn wrong_type(diagnostics: &mut Diagnostics, path: &JsonPath, expected: &str, value: &Value) {
    diagnostics.error(
        path,
        format!("expected {expected}, found {}", describe(value)),
    );
}

pub(crate) fn string<'a>(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &'a Value,
) -> Option<&'a str> {
    match value {
        Value::String(text) => Some(text),
        other => {
            wrong_type(diagnostics, path, "a string", other);
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn non_empty_string<'a>(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &'a Value,
) -> Option<&'a str> {
    let text = string(diagnostics, path, value)?;
    if text.trim().is_empty() {
        diagnostics.error(path, "must not be empty");
        return None;
    }
    Some(text)
}

/// A string with `${...}` interpolation.
pub(crate) fn template(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
) -> Option<Template> {
    let text = string(diagnostics, path, value)?;
    match Template::parse(text) {
        Ok(template) => {
            template.for_each_variable(&mut |name| {
                diagnostics.reads.push((name.to_owned(), path.clone()));
            });
            template.for_each_call(&mut |function, arguments, column| {
                if let (Function::IsOpen, [Expression::Literal(name)]) = (function, arguments) {
                    diagnostics
                        .schedule_uses
                        .push((name.clone(), path.clone(), column));
                }
            });
            Some(template)
        }
        Err(error) => {
            diagnostics.error(path, format!("invalid expression: {error}"));
            None
        }
    }
}

pub(crate) fn boolean(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        other => {
            wrong_type(diagnostics, path, "true or false", other);
            None
        }
    }
}

/// A whole number within `minimum..=maximum`.
pub(crate) fn integer(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
    minimum: i64,
    maximum: i64,
) -> Option<i64> {
    let Value::Number(number) = value else {
        wrong_type(diagnostics, path, "a whole number", value);
        return None;
    };
    let Some(whole) = number.as_i64() else {
        let too_big = number.as_u64().is_some();
        if too_big {
            diagnostics.error(path, format!("{number} is above the maximum {maximum}"));
        } else {
            diagnostics.error(path, format!("expected a whole number, found {number}"));
        }
        return None;
    };
    in_range(
        diagnostics,
        path,
        whole as f64,
        minimum as f64,
        maximum as f64,
    )
    .then_some(whole)
}

/// A number (fractions allowed) within `minimum..=maximum`.
pub(crate) fn number(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &Value,
    minimum: f64,
    maximum: f64,
) -> Option<f64> {
    let Some(number) = value.as_f64() else {
        wrong_type(diagnostics, path, "a number", value);
        return None;
    };
    in_range(diagnostics, path, number, minimum, maximum).then_some(number)
}

fn in_range(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    number: f64,
    minimum: f64,
    maximum: f64,
) -> bool {
    if number < minimum {
        diagnostics.error(path, format!("{number} is below the minimum {minimum}"));
        return false;
    }
    if number > maximum {
        diagnostics.error(path, format!("{number} is above the maximum {maximum}"));
        return false;
    }
    true
}

pub(crate) fn object<'a>(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &'a Value,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            wrong_type(diagnostics, path, "an object", other);
            None
        }
    }
}

pub(crate) fn array<'a>(
    diagnostics: &mut Diagnostics,
    path: &JsonPath,
    value: &'a Value,
) -> Option<&'a Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        other => {
            wrong_type(diagnostics, path, "an array", other);
            None
        }
    }
}

/// The known key closest to a misspelt one, if it is close enough to be a likely typo.
pub(crate) fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let lowered = key.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| {
            (
                edit_distance(&lowered, &candidate.to_ascii_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, candidate)| {
            let tolerance = if candidate.len() <= 4 {
                1
            } else {
                2.max(candidate.len() / 4)
            };
            *distance <= tolerance
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_character) in left.chars().enumerate() {
        let mut current = vec![row + 1];
        for (column, right_character) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_character != *right_character);
            let deletion = previous[column + 1] + 1;
            let insertion = current[column] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_javascript() {
        let path = JsonPath::default()
            .key("script")
            .index(3)
            .key("options")
            .key("timeout");
        assert_eq!(path.as_str(), "script[3].options.timeout");
        let path = JsonPath::default()
            .key("case")
            .key("1")
            .index(0)
            .key("__default");
        assert_eq!(path.as_str(), "case[\"1\"][0].__default");
        assert_eq!(JsonPath::default().key("for-each").as_str(), "for-each");
    }

    #[test]
    fn suggestions_for_typos() {
        let known = ["maxInputLength", "timeout", "mappedValues", "sendToReports"];
        assert_eq!(closest("maxInputLenght", &known), Some("maxInputLength"));
        assert_eq!(closest("timout", &known), Some("timeout"));
        assert_eq!(closest("color", &known), None);
    }
}
