//! Strings with `${...}` interpolation: `"Hello ${name}"`, `"${choice == '1'}"`.
//!
//! `\$` writes a literal `$` (so `\${x}` is the text `${x}`); any other backslash is kept as
//! it is. Inside `${...}` a `}` within a quoted string literal does not close the expression.

use std::collections::BTreeMap;

use super::lexer::string_literal;
use super::{
    EvaluationError, Expression, ExpressionError, ExpressionErrorKind, Function, Functions,
    NoFunctions,
};

/// A parsed string template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Text(String),
    Expression(Expression),
}

impl Template {
    /// Parses `text`; error columns count characters of `text`, starting at 1.
    pub fn parse(text: &str) -> Result<Template, ExpressionError> {
        let characters: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut position = 0;
        while let Some(&character) = characters.get(position) {
            let next = characters.get(position + 1).copied();
            match (character, next) {
                ('\\', Some('$')) => {
                    literal.push('$');
                    position += 2;
                }
                ('$', Some('{')) => {
                    let start = position + 2;
                    let end = closing_brace(&characters, start).ok_or(ExpressionError {
                        column: position + 1,
                        kind: ExpressionErrorKind::UnterminatedInterpolation,
                    })?;
                    let inner: String = characters[start..end].iter().collect();
                    let expression = Expression::parse(&inner, start)?;
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(TemplatePart::Expression(expression));
                    position = end + 1;
                }
                _ => {
                    literal.push(character);
                    position += 1;
                }
            }
        }
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    /// A template that renders `text` as it is.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_owned(),
            parts: if text.is_empty() {
                Vec::new()
            } else {
                vec![TemplatePart::Text(text.to_owned())]
            },
        }
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed pieces.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// True when the template has no `${...}`: it renders the same for every call.
    pub fn is_constant(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, TemplatePart::Text(_)))
    }

    /// Calls `visit` with the name of every variable the template reads.
    pub fn for_each_variable(&self, visit: &mut dyn FnMut(&str)) {
        for part in &self.parts {
            if let TemplatePart::Expression(expression) = part {
                expression.for_each_variable(visit);
            }
        }
    }

    /// The variable when the template is exactly one `${name}` and nothing else.
    pub fn single_variable(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [TemplatePart::Expression(Expression::Variable(name))] => Some(name),
            _ => None,
        }
    }

    /// Calls `visit` with every function call in the template (see
    /// [`Expression::for_each_call`]); columns count characters of the whole string.
    pub fn for_each_call(&self, visit: &mut dyn FnMut(Function, &[Expression], usize)) {
        for part in &self.parts {
            if let TemplatePart::Expression(expression) = part {
                expression.for_each_call(visit);
            }
        }
    }

    /// Renders the template with `variables` (unset reads as `""`); functions see
    /// [`NoFunctions`].
    pub fn render(&self, variables: &BTreeMap<String, String>) -> Result<String, EvaluationError> {
        self.render_with(variables, &mut NoFunctions)
    }

    /// Renders the template with `variables`, `functions` answering the function calls.
    pub fn render_with(
        &self,
        variables: &BTreeMap<String, String>,
        functions: &mut dyn Functions,
    ) -> Result<String, EvaluationError> {
        let mut rendered = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => rendered.push_str(text),
                TemplatePart::Expression(expression) => {
                    rendered.push_str(&expression.evaluate_with(variables, functions)?);
                }
            }
        }
        Ok(rendered)
    }
}

/// The index of the `}` closing an interpolation whose body starts at `start`.
fn closing_brace(characters: &[char], start: usize) -> Option<usize> {
    let mut position = start;
    loop {
        match *characters.get(position)? {
            '}' => return Some(position),
            '\'' | '"' => match string_literal(&characters[position..]) {
                Some((_, length)) => position += length,
                // An unterminated literal: let the expression parser report it precisely.
                None => return closing_brace_unquoted(characters, position + 1),
            },
            _ => position += 1,
        }
    }
}

fn closing_brace_unquoted(characters: &[char], start: usize) -> Option<usize> {
    characters[start..]
        .iter()
        .position(|character| *character == '}')
        .map(|offset| start + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("name".to_owned(), "Ada".to_owned()),
            ("choice".to_owned(), "1".to_owned()),
        ])
    }

    #[test]
    fn renders_interpolations() {
        let cases = [
            ("Hello ${name}!", "Hello Ada!"),
            ("${choice == '1'}", "true"),
            ("${choice == 2}", "false"),
            ("no expressions", "no expressions"),
            ("${'}'}", "}"),
            ("cost: \\${x} and $5 and {y}", "cost: ${x} and $5 and {y}"),
            ("${missing}|${name}${choice}", "|Ada1"),
            ("", ""),
        ];
        for (text, expected) in cases {
            let template = Template::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(
                template.render(&variables()).as_deref(),
                Ok(expected),
                "{text}"
            );
        }
        assert!(Template::parse("plain").expect("valid").is_constant());
        assert!(!Template::parse("${x}").expect("valid").is_constant());
    }

    #[test]
    fn errors_count_columns_in_the_whole_string() {
        let cases = [
            ("Hi ${name", 4, "`${` is never closed by `}`"),
            ("Hi ${}", 6, "empty expression"),
            ("ab ${choice = 1}", 13, "unexpected character '='"),
            (
                "${a} ${b ==}",
                12,
                "expected a value, found end of expression",
            ),
            ("${'open}", 3, "unterminated string literal"),
            ("é ${(x}", 7, "expected `)`, found end of expression"),
        ];
        for (text, column, message) in cases {
            let error = Template::parse(text).expect_err(text);
            assert_eq!(
                (error.column, error.kind.to_string()),
                (column, message.to_owned()),
                "{text}"
            );
        }
    }
}
