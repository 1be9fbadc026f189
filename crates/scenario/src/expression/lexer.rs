//! Splits an expression into tokens, each with its 1-based column.

use super::{ExpressionError, ExpressionErrorKind};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    String(String),
    Number(String),
    Identifier(String),
    True,
    False,
    Null,
    And,
    Or,
    Not,
    Empty,
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Question,
    Colon,
    LeftParen,
    RightParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub column: usize,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::String(text) => format!("string {text:?}"),
            TokenKind::Number(text) => format!("number {text}"),
            TokenKind::Identifier(name) => format!("name `{name}`"),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            TokenKind::String(_) | TokenKind::Number(_) | TokenKind::Identifier(_) => "value",
            TokenKind::True => "true",
            TokenKind::False => "false",
            TokenKind::Null => "null",
            TokenKind::And => "&&",
            TokenKind::Or => "||",
            TokenKind::Not => "!",
            TokenKind::Empty => "empty",
            TokenKind::Equal => "==",
            TokenKind::NotEqual => "!=",
            TokenKind::Less => "<",
            TokenKind::Greater => ">",
            TokenKind::LessOrEqual => "<=",
            TokenKind::GreaterOrEqual => ">=",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::Percent => "%",
            TokenKind::Question => "?",
            TokenKind::Colon => ":",
            TokenKind::LeftParen => "(",
            TokenKind::RightParen => ")",
            TokenKind::Comma => ",",
        }
    }
}

/// Word operators and literals; any other word is a variable name.
fn keyword(word: &str) -> Option<TokenKind> {
    Some(match word {
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "not" => TokenKind::Not,
        "eq" => TokenKind::Equal,
        "ne" => TokenKind::NotEqual,
        "lt" => TokenKind::Less,
        "gt" => TokenKind::Greater,
        "le" => TokenKind::LessOrEqual,
        "ge" => TokenKind::GreaterOrEqual,
        "div" => TokenKind::Slash,
        "mod" => TokenKind::Percent,
        "empty" => TokenKind::Empty,
        "true" => TokenKind::True,
        "false" => TokenKind::False,
        "null" => TokenKind::Null,
        _ => return None,
    })
}

/// Tokenizes `text`; columns start at `column_offset + 1`.
pub(super) fn tokenize(text: &str, column_offset: usize) -> Result<Vec<Token>, ExpressionError> {
    let characters: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut position = 0;
    let error = |position: usize, kind| ExpressionError {
        column: column_offset + position + 1,
        kind,
    };
    while let Some(&character) = characters.get(position) {
        let start = position;
        let next = characters.get(position + 1).copied();
        let two = |kind| (kind, 2);
        let one = |kind| (kind, 1);
        let (kind, length) = match character {
            ' ' | '\t' | '\n' | '\r' => {
                position += 1;
                continue;
            }
            '\'' | '"' => {
                let (value, length) = string_literal(&characters[start..])
                    .ok_or_else(|| error(start, ExpressionErrorKind::UnterminatedString))?;
                (TokenKind::String(value), length)
            }
            '0'..='9' | '.' if character != '.' || next.is_some_and(|c| c.is_ascii_digit()) => {
                let length = characters[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == '.')
                    .count();
                let literal: String = characters[start..start + length].iter().collect();
                if super::as_number(&literal).is_none() {
                    return Err(error(start, ExpressionErrorKind::UnexpectedCharacter('.')));
                }
                (TokenKind::Number(literal), length)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let length = characters[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.')
                    .count();
                let word: String = characters[start..start + length].iter().collect();
                (
                    keyword(&word).unwrap_or(TokenKind::Identifier(word)),
                    length,
                )
            }
            '=' if next == Some('=') => two(TokenKind::Equal),
            '!' if next == Some('=') => two(TokenKind::NotEqual),
            '<' if next == Some('=') => two(TokenKind::LessOrEqual),
            '>' if next == Some('=') => two(TokenKind::GreaterOrEqual),
            '&' if next == Some('&') => two(TokenKind::And),
            '|' if next == Some('|') => two(TokenKind::Or),
            '!' => one(TokenKind::Not),
            '<' => one(TokenKind::Less),
            '>' => one(TokenKind::Greater),
            '+' => one(TokenKind::Plus),
            '-' => one(TokenKind::Minus),
            '*' => one(TokenKind::Star),
            '/' => one(TokenKind::Slash),
            '%' => one(TokenKind::Percent),
            '?' => one(TokenKind::Question),
            ':' => one(TokenKind::Colon),
            '(' => one(TokenKind::LeftParen),
            ')' => one(TokenKind::RightParen),
            ',' => one(TokenKind::Comma),
            other => {
                return Err(error(
                    start,
                    ExpressionErrorKind::UnexpectedCharacter(other),
                ));
            }
        };
        tokens.push(Token {
            kind,
            column: column_offset + start + 1,
        });
        position += length;
    }
    Ok(tokens)
}

/// Reads a quoted literal at the start of `characters`: its value and its length in
/// characters, quotes included. A backslash escapes the next character.
pub(super) fn string_literal(characters: &[char]) -> Option<(String, usize)> {
    let quote = *characters.first()?;
    let mut value = String::new();
    let mut position = 1;
    loop {
        match *characters.get(position)? {
            '\\' => {
                value.push(*characters.get(position + 1)?);
                position += 2;
            }
            c if c == quote => return Some((value, position + 1)),
            c => {
                value.push(c);
                position += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text, 0)
            .expect("valid")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn tokens_and_columns() {
        let tokens = tokenize("a.b_c >= 'x\\'y' and not 2.5", 0).expect("valid");
        let columns: Vec<usize> = tokens.iter().map(|token| token.column).collect();
        assert_eq!(columns, vec![1, 7, 10, 17, 21, 25]);
        assert_eq!(
            kinds("a.b_c >= 'x\\'y' and not 2.5"),
            vec![
                TokenKind::Identifier("a.b_c".into()),
                TokenKind::GreaterOrEqual,
                TokenKind::String("x'y".into()),
                TokenKind::And,
                TokenKind::Not,
                TokenKind::Number("2.5".into()),
            ]
        );
        assert_eq!(kinds("order"), vec![TokenKind::Identifier("order".into())]);
        assert_eq!(kinds("x div 2 mod 3"), {
            vec![
                TokenKind::Identifier("x".into()),
                TokenKind::Slash,
                TokenKind::Number("2".into()),
                TokenKind::Percent,
                TokenKind::Number("3".into()),
            ]
        });
    }

    #[test]
    fn lexical_errors_carry_columns() {
        let error = tokenize("a == 'open", 4).expect_err("unterminated");
        assert_eq!(error.column, 10);
        assert_eq!(error.kind, ExpressionErrorKind::UnterminatedString);
        let error = tokenize("a = 1", 0).expect_err("single =");
        assert_eq!(error.column, 3);
        assert_eq!(error.kind, ExpressionErrorKind::UnexpectedCharacter('='));
        let error = tokenize("1.2.3", 0).expect_err("bad number");
        assert_eq!(error.column, 1);
    }
}
