//! The `${...}` expression language: a UEL subset over strings.
//!
//! Every value is a string; an unset variable reads as `""`. Operators, loosest first:
//!
//! | level | operators |
//! |---|---|
//! | conditional | `c ? a : b` |
//! | or | `\|\|`, `or` |
//! | and | `&&`, `and` |
//! | equality | `==`, `!=`, `eq`, `ne` |
//! | relational | `<`, `>`, `<=`, `>=`, `lt`, `gt`, `le`, `ge` |
//! | additive | `+`, `-` |
//! | multiplicative | `*`, `/`, `%`, `div`, `mod` |
//! | unary | `-`, `!`, `not`, `empty` |
//! | primary | `'text'`, `"text"`, `12`, `1.5`, `true`, `false`, `null`, `name.with_dots`, `( ... )`, `function(argument, ...)` |
//!
//! Decisions (where UEL is typed and we are not):
//! - A value "is a number" when it reads as an optional sign, digits and an optional fraction
//!   (`-12`, `3.50`, `.5`; no exponent, no `inf`/`NaN`, no surrounding spaces).
//! - Comparisons are numeric when both sides are numbers (`'10' > '9'`, `'1.0' == '1'`),
//!   otherwise they compare the strings byte-wise.
//! - `+` adds two numbers and concatenates anything else (`'a' + 1` is `"a1"`). `- * / %`
//!   need numbers: anything else is an [`EvaluationError`]; so is division by zero.
//! - Numeric results print without a trailing `.0` (`6 / 2` is `"3"`, `7 / 2` is `"3.5"`).
//! - Truthiness (for `!`, `&&`, `||`, `?:` and conditions): `""`, `"false"` (any case) and
//!   any number equal to zero are false; every other string is true. Boolean operators
//!   yield `"true"` or `"false"`.
//! - `empty x` is true when `x` is `""`. `null` is `""`.
//!
//! Functions: a name directly followed by `(` is a call; the arguments are expressions,
//! separated by `,`. An unknown name or a wrong number of arguments is a syntax error at
//! the name's column. What a function knows of the world (the time, the schedules) comes
//! from the caller through [`Functions`]: an expression never reads a clock.
//!
//! | function | result |
//! |---|---|
//! | `isOpen(schedule)` | `"true"` when the schedule (a `[schedules.NAME]` of the configuration) is open now, else `"false"` ([`Functions::is_open`]) |

mod evaluate;
mod lexer;
mod parser;
mod template;

pub use template::{Template, TemplatePart};

use std::collections::BTreeMap;

/// A parsed expression, the part between `${` and `}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// A string or number literal, as its string value.
    Literal(String),
    /// A variable read; unset reads as `""`.
    Variable(String),
    /// A prefix operator applied to one operand.
    Unary {
        operator: UnaryOperator,
        operand: Box<Expression>,
    },
    /// An infix operator.
    Binary {
        operator: BinaryOperator,
        left: Box<Expression>,
        right: Box<Expression>,
    },
    /// `condition ? when_true : when_false`.
    Conditional {
        condition: Box<Expression>,
        when_true: Box<Expression>,
        when_false: Box<Expression>,
    },
    /// `function(arguments)`; the parser checks the number of arguments.
    Call {
        function: Function,
        arguments: Vec<Expression>,
        /// The 1-based column of the function's name, counted like [`ExpressionError`]'s.
        column: usize,
    },
}

/// The built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Function {
    /// `isOpen(schedule)`: `"true"` or `"false"`.
    IsOpen,
}

impl Function {
    /// Every function, in the order they are listed in messages.
    pub const ALL: [Function; 1] = [Function::IsOpen];

    /// The name a scenario calls it by (case matters).
    pub fn name(self) -> &'static str {
        match self {
            Function::IsOpen => "isOpen",
        }
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        match self {
            Function::IsOpen => 1,
        }
    }

    /// The function called `name`, if any.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name() == name)
    }
}

/// What the functions ask of whoever evaluates an expression: the facts an expression
/// cannot know by itself. A scenario run answers them at its current virtual time.
pub trait Functions {
    /// `isOpen(schedule)`: whether `schedule` is open now. Unknown schedules are false
    /// (the implementation may note why).
    fn is_open(&mut self, schedule: &str) -> bool;
}

/// [`Functions`] with nothing behind them: `isOpen` is always false. Used by
/// [`Expression::evaluate`] and [`Template::render`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn is_open(&mut self, _schedule: &str) -> bool {
        false
    }
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOperator {
    /// `-x`: numeric negation.
    Negate,
    /// `!x`, `not x`: logical not.
    Not,
    /// `empty x`: true when `x` is `""`.
    Empty,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOperator {
    Or,
    And,
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

impl BinaryOperator {
    /// The operator as written in its symbolic form, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOperator::Or => "||",
            BinaryOperator::And => "&&",
            BinaryOperator::Equal => "==",
            BinaryOperator::NotEqual => "!=",
            BinaryOperator::Less => "<",
            BinaryOperator::Greater => ">",
            BinaryOperator::LessOrEqual => "<=",
            BinaryOperator::GreaterOrEqual => ">=",
            BinaryOperator::Add => "+",
            BinaryOperator::Subtract => "-",
            BinaryOperator::Multiply => "*",
            BinaryOperator::Divide => "/",
            BinaryOperator::Remainder => "%",
        }
    }
}

/// A syntax error in an expression or template, at a 1-based character column of the text
/// that was parsed (for a template: of the whole string, `${` included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {kind}")]
pub struct ExpressionError {
    pub column: usize,
    pub kind: ExpressionErrorKind,
}

/// What is wrong with an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionErrorKind {
    #[error("unexpected character {0:?}")]
    UnexpectedCharacter(char),
    #[error("unterminated string literal")]
    UnterminatedString,
    #[error("`${{` is never closed by `}}`")]
    UnterminatedInterpolation,
    #[error("empty expression")]
    Empty,
    #[error("expected a value, found {found}")]
    ExpectedOperand { found: String },
    #[error("expected {expected}, found {found}")]
    ExpectedToken {
        expected: &'static str,
        found: String,
    },
    #[error("unexpected {found} after the end of the expression")]
    TrailingInput { found: String },
    #[error("expression too long (more than {limit} tokens)")]
    TooLong { limit: usize },
    #[error("expression nested too deeply (more than {limit} levels)")]
    TooDeep { limit: usize },
    #[error("unknown function `{name}` (the functions are: {known})", known = known_functions())]
    UnknownFunction { name: String },
    #[error(
        "`{function}` takes {expected} argument{plural}, found {found}",
        plural = if *expected == 1 { "" } else { "s" }
    )]
    WrongArgumentCount {
        function: &'static str,
        expected: usize,
        found: usize,
    },
}

fn known_functions() -> String {
    Function::ALL
        .iter()
        .map(|function| format!("`{}`", function.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run-time failure of an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    #[error("`{operator}` needs numbers, but {value:?} is not a number")]
    NotANumber {
        operator: &'static str,
        value: String,
    },
    #[error("division by zero")]
    DivisionByZero,
    #[error("the result of `{operator}` is not a finite number")]
    NotFinite { operator: &'static str },
}

impl Expression {
    /// Parses one expression (the text between `${` and `}`); `column_offset` is added to
    /// the reported columns (0 for a standalone expression).
    pub fn parse(text: &str, column_offset: usize) -> Result<Expression, ExpressionError> {
        let tokens = lexer::tokenize(text, column_offset)?;
        parser::parse(&tokens, column_offset + text.chars().count() + 1)
    }

    /// Evaluates against `variables`; unset variables read as `""`; functions see
    /// [`NoFunctions`].
    pub fn evaluate(
        &self,
        variables: &BTreeMap<String, String>,
    ) -> Result<String, EvaluationError> {
        evaluate::evaluate(self, variables, &mut NoFunctions)
    }

    /// Evaluates against `variables`, with `functions` answering the function calls.
    pub fn evaluate_with(
        &self,
        variables: &BTreeMap<String, String>,
        functions: &mut dyn Functions,
    ) -> Result<String, EvaluationError> {
        evaluate::evaluate(self, variables, functions)
    }

    /// Calls `visit` with every function call in the expression (the function, its
    /// arguments and the column of its name), outermost first.
    pub fn for_each_call(&self, visit: &mut dyn FnMut(Function, &[Expression], usize)) {
        match self {
            Expression::Literal(_) | Expression::Variable(_) => {}
            Expression::Unary { operand, .. } => operand.for_each_call(visit),
            Expression::Binary { left, right, .. } => {
                left.for_each_call(visit);
                right.for_each_call(visit);
            }
            Expression::Conditional {
                condition,
                when_true,
                when_false,
            } => {
                condition.for_each_call(visit);
                when_true.for_each_call(visit);
                when_false.for_each_call(visit);
            }
            Expression::Call {
                function,
                arguments,
                column,
            } => {
                visit(*function, arguments, *column);
                for argument in arguments {
                    argument.for_each_call(visit);
                }
            }
        }
    }

    /// Calls `visit` with the name of every variable the expression reads.
    pub fn for_each_variable(&self, visit: &mut dyn FnMut(&str)) {
        match self {
            Expression::Literal(_) => {}
            Expression::Variable(name) => visit(name),
            Expression::Unary { operand, .. } => operand.for_each_variable(visit),
            Expression::Binary { left, right, .. } => {
                left.for_each_variable(visit);
                right.for_each_variable(visit);
            }
            Expression::Conditional {
                condition,
                when_true,
                when_false,
            } => {
                condition.for_each_variable(visit);
                when_true.for_each_variable(visit);
                when_false.for_each_variable(visit);
            }
            Expression::Call { arguments, .. } => {
                for argument in arguments {
                    argument.for_each_variable(visit);
                }
            }
        }
    }
}

/// Reads `text` as a number when it has the form described in the module docs.
pub fn as_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let well_formed = all_digits(whole)
        && fraction.is_none_or(all_digits)
        && (!whole.is_empty() || fraction.is_some_and(|fraction| !fraction.is_empty()));
    if !well_formed {
        return None;
    }
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

/// Prints a numeric result: integral values without a fraction, others in the shortest
/// form that reads back to the same `f64`.
pub fn format_number(number: f64) -> String {
    if number == 0.0 {
        // Also turns -0 into "0".
        return "0".to_owned();
    }
    if number.fract() == 0.0 && number.abs() < 1e15 {
        // Exact: the value is integral and well inside i64.
        return format!("{}", number as i64);
    }
    format!("{number}")
}

/// The truth value of a string (see the module docs).
pub fn is_truthy(value: &str) -> bool {
    if value.is_empty() || value.eq_ignore_ascii_case("false") {
        return false;
    }
    as_number(value).is_none_or(|number| number != 0.0)
}

/// `"true"` or `"false"`.
pub fn boolean_text(value: bool) -> String {
    if value { "true" } else { "false" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_recognised_strictly() {
        for text in ["0", "12", "-3", "+4", "1.5", ".5", "5.", "007"] {
            assert!(as_number(text).is_some(), "{text}");
        }
        for text in [
            "", "-", ".", "1e5", "inf", "NaN", " 1", "1 ", "1.2.3", "0x10", "--1",
        ] {
            assert!(as_number(text).is_none(), "{text}");
        }
    }

    #[test]
    fn numbers_format_without_needless_fraction() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(3.5), "3.5");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(1e20), "100000000000000000000");
    }

    #[test]
    fn truthiness() {
        for text in ["", "false", "FALSE", "0", "0.0", "-0"] {
            assert!(!is_truthy(text), "{text}");
        }
        for text in ["true", "1", "yes", "no", " ", "0.1", "abc"] {
            assert!(is_truthy(text), "{text}");
        }
    }
}
