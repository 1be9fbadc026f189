//! Recursive-descent parser from tokens to [`Expression`], loosest operator first.

use super::lexer::{Token, TokenKind};
use super::{
    BinaryOperator, Expression, ExpressionError, ExpressionErrorKind, Function, UnaryOperator,
};

/// Nesting deeper than this is refused, so that hostile input cannot exhaust the stack.
const MAXIMUM_DEPTH: usize = 64;
/// Longer expressions are refused: a chain of binary operators builds a tree as deep as it
/// is long, and evaluating (and dropping) that tree recurses.
const MAXIMUM_TOKENS: usize = 512;

/// Parses all of `tokens`; `end_column` is where "end of expression" is reported.
pub(super) fn parse(tokens: &[Token], end_column: usize) -> Result<Expression, ExpressionError> {
    if tokens.is_empty() {
        return Err(ExpressionError {
            column: end_column,
            kind: ExpressionErrorKind::Empty,
        });
    }
    if let Some(token) = tokens.get(MAXIMUM_TOKENS) {
        return Err(ExpressionError {
            column: token.column,
            kind: ExpressionErrorKind::TooLong {
                limit: MAXIMUM_TOKENS,
            },
        });
    }
    let mut parser = Parser {
        tokens,
        position: 0,
        end_column,
        depth: 0,
    };
    let expression = parser.conditional()?;
    if let Some(token) = parser.peek() {
        return Err(ExpressionError {
            column: token.column,
            kind: ExpressionErrorKind::TrailingInput {
                found: token.kind.describe(),
            },
        });
    }
    Ok(expression)
}

struct Parser<'a> {
    tokens: &'a [Token],
    position: usize,
    end_column: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn peek_kind(&self) -> Option<&TokenKind> {
        self.peek().map(|token| &token.kind)
    }

    fn column(&self) -> usize {
        self.peek().map_or(self.end_column, |token| token.column)
    }

    fn found(&self) -> String {
        self.peek_kind()
            .map_or_else(|| "end of expression".to_owned(), TokenKind::describe)
    }

    fn expect(&mut self, kind: TokenKind, expected: &'static str) -> Result<(), ExpressionError> {
        if self.peek_kind() == Some(&kind) {
            self.position += 1;
            return Ok(());
        }
        Err(ExpressionError {
            column: self.column(),
            kind: ExpressionErrorKind::ExpectedToken {
                expected,
                found: self.found(),
            },
        })
    }

    fn enter(&mut self) -> Result<(), ExpressionError> {
        self.depth += 1;
        if self.depth > MAXIMUM_DEPTH {
            return Err(ExpressionError {
                column: self.column(),
                kind: ExpressionErrorKind::TooDeep {
                    limit: MAXIMUM_DEPTH,
                },
            });
        }
        Ok(())
    }

    fn conditional(&mut self) -> Result<Expression, ExpressionError> {
        self.enter()?;
        let condition = self.binary(0)?;
        let expression = if self.peek_kind() == Some(&TokenKind::Question) {
            self.position += 1;
            let when_true = self.conditional()?;
            self.expect(TokenKind::Colon, "`:`")?;
            let when_false = self.conditional()?;
            Expression::Conditional {
                condition: Box::new(condition),
                when_true: Box::new(when_true),
                when_false: Box::new(when_false),
            }
        } else {
            condition
        };
        self.depth -= 1;
        Ok(expression)
    }

    /// Binary operators by precedence level, loosest (0) first; all left-associative.
    fn binary(&mut self, level: usize) -> Result<Expression, ExpressionError> {
        const LEVELS: usize = 6;
        if level == LEVELS {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(operator) = self.peek_kind().and_then(|kind| operator_at(level, kind)) {
            self.position += 1;
            let right = self.binary(level + 1)?;
            left = Expression::Binary {
                operator,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expression, ExpressionError> {
        let operator = match self.peek_kind() {
            Some(TokenKind::Minus) => UnaryOperator::Negate,
            Some(TokenKind::Not) => UnaryOperator::Not,
            Some(TokenKind::Empty) => UnaryOperator::Empty,
            _ => return self.primary(),
        };
        self.position += 1;
        self.enter()?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Expression::Unary {
            operator,
            operand: Box::new(operand),
        })
    }

    fn primary(&mut self) -> Result<Expression, ExpressionError> {
        let Some(token) = self.peek() else {
            return Err(self.expected_operand());
        };
        let expression = match &token.kind {
            TokenKind::String(text) | TokenKind::Number(text) => Expression::Literal(text.clone()),
            TokenKind::True => Expression::Literal("true".to_owned()),
            TokenKind::False => Expression::Literal("false".to_owned()),
            TokenKind::Null => Expression::Literal(String::new()),
            TokenKind::Identifier(name)
                if self
                    .tokens
                    .get(self.position + 1)
                    .is_some_and(|next| next.kind == TokenKind::LeftParen) =>
            {
                let (name, column) = (name.clone(), token.column);
                return self.call(&name, column);
            }
            TokenKind::Identifier(name) => Expression::Variable(name.clone()),
            TokenKind::LeftParen => {
                self.position += 1;
                let inner = self.conditional()?;
                self.expect(TokenKind::RightParen, "`)`")?;
                return Ok(inner);
            }
            _ => return Err(self.expected_operand()),
        };
        self.position += 1;
        Ok(expression)
    }

    /// A function call; the current token is its name, the next one `(`.
    fn call(&mut self, name: &str, column: usize) -> Result<Expression, ExpressionError> {
        let function = Function::from_name(name).ok_or_else(|| ExpressionError {
            column,
            kind: ExpressionErrorKind::UnknownFunction {
                name: name.to_owned(),
            },
        })?;
        self.position += 2;
        self.enter()?;
        let mut arguments = Vec::new();
        if self.peek_kind() != Some(&TokenKind::RightParen) {
            loop {
                arguments.push(self.conditional()?);
                if self.peek_kind() != Some(&TokenKind::Comma) {
                    break;
                }
                self.position += 1;
            }
        }
        let expected = if arguments.is_empty() {
            "`)`"
        } else {
            "`,` or `)`"
        };
        self.expect(TokenKind::RightParen, expected)?;
        self.depth -= 1;
        if arguments.len() != function.arity() {
            return Err(ExpressionError {
                column,
                kind: ExpressionErrorKind::WrongArgumentCount {
                    function: function.name(),
                    expected: function.arity(),
                    found: arguments.len(),
                },
            });
        }
        Ok(Expression::Call {
            function,
            arguments,
            column,
        })
    }

    fn expected_operand(&self) -> ExpressionError {
        ExpressionError {
            column: self.column(),
            kind: ExpressionErrorKind::ExpectedOperand {
                found: self.found(),
            },
        }
    }
}

fn operator_at(level: usize, kind: &TokenKind) -> Option<BinaryOperator> {
    use BinaryOperator as Op;
    let operator = match (level, kind) {
        (0, TokenKind::Or) => Op::Or,
        (1, TokenKind::And) => Op::And,
        (2, TokenKind::Equal) => Op::Equal,
        (2, TokenKind::NotEqual) => Op::NotEqual,
        (3, TokenKind::Less) => Op::Less,
        (3, TokenKind::Greater) => Op::Greater,
        (3, TokenKind::LessOrEqual) => Op::LessOrEqual,
        (3, TokenKind::GreaterOrEqual) => Op::GreaterOrEqual,
        (4, TokenKind::Plus) => Op::Add,
        (4, TokenKind::Minus) => Op::Subtract,
        (5, TokenKind::Star) => Op::Multiply,
        (5, TokenKind::Slash) => Op::Divide,
        (5, TokenKind::Percent) => Op::Remainder,
        _ => return None,
    };
    Some(operator)
}

#[cfg(test)]
mod tests {
    use super::super::{BinaryOperator, Expression, ExpressionErrorKind};

    fn variable(name: &str) -> Box<Expression> {
        Box::new(Expression::Variable(name.to_owned()))
    }

    fn literal(text: &str) -> Box<Expression> {
        Box::new(Expression::Literal(text.to_owned()))
    }

    #[test]
    fn precedence_and_associativity() {
        let parsed = Expression::parse("a || b && c == 1 + 2 * 3", 0).expect("valid");
        let expected = Expression::Binary {
            operator: BinaryOperator::Or,
            left: variable("a"),
            right: Box::new(Expression::Binary {
                operator: BinaryOperator::And,
                left: variable("b"),
                right: Box::new(Expression::Binary {
                    operator: BinaryOperator::Equal,
                    left: variable("c"),
                    right: Box::new(Expression::Binary {
                        operator: BinaryOperator::Add,
                        left: literal("1"),
                        right: Box::new(Expression::Binary {
                            operator: BinaryOperator::Multiply,
                            left: literal("2"),
                            right: literal("3"),
                        }),
                    }),
                }),
            }),
        };
        assert_eq!(parsed, expected);
        let parsed = Expression::parse("8 - 2 - 1", 0).expect("valid");
        let Expression::Binary { left, .. } = parsed else {
            panic!("binary expected");
        };
        assert!(matches!(
            *left,
            Expression::Binary {
                operator: BinaryOperator::Subtract,
                ..
            }
        ));
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let cases: [(&str, usize, &str); 8] = [
            ("a ==", 5, "expected a value, found end of expression"),
            ("(a == 1", 8, "expected `)`, found end of expression"),
            (
                "a b",
                3,
                "unexpected name `b` after the end of the expression",
            ),
            ("a ? 1", 6, "expected `:`, found end of expression"),
            ("== 1", 1, "expected a value, found `==`"),
            ("1 + * 2", 5, "expected a value, found `*`"),
            ("a )", 3, "unexpected `)` after the end of the expression"),
            ("", 1, "empty expression"),
        ];
        for (text, column, message) in cases {
            let error = Expression::parse(text, 0).expect_err(text);
            assert_eq!(
                (error.column, error.kind.to_string()),
                (column, message.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "(".repeat(100) + "1" + &")".repeat(100);
        let error = Expression::parse(&text, 0).expect_err("too deep");
        assert!(matches!(error.kind, ExpressionErrorKind::TooDeep { .. }));
        let text = "-".repeat(100) + "1";
        assert!(Expression::parse(&text, 0).is_err());
        let text = "a ? ".repeat(10_000) + "1";
        assert!(Expression::parse(&text, 0).is_err());
        let text = "1".to_owned() + &" + 1".repeat(10_000);
        let error = Expression::parse(&text, 0).expect_err("too long");
        assert!(matches!(error.kind, ExpressionErrorKind::TooLong { .. }));
    }

    #[test]
    fn function_calls() {
        use super::super::{Function, UnaryOperator};
        let parsed = Expression::parse("!isOpen('office') && a", 0).expect("valid");
        let expected = Expression::Binary {
            operator: BinaryOperator::And,
            left: Box::new(Expression::Unary {
                operator: UnaryOperator::Not,
                operand: Box::new(Expression::Call {
                    function: Function::IsOpen,
                    arguments: vec![Expression::Literal("office".to_owned())],
                    column: 2,
                }),
            }),
            right: variable("a"),
        };
        assert_eq!(parsed, expected);
        // Any expression is an argument; spaces before `(` are allowed.
        let parsed = Expression::parse("isOpen (prefix + '-' + site)", 4).expect("valid");
        let Expression::Call {
            arguments, column, ..
        } = parsed
        else {
            panic!("a call expected");
        };
        assert_eq!((arguments.len(), column), (1, 5));
        // A name without `(` stays a variable, even one named like a function.
        assert_eq!(
            Expression::parse("isOpen", 0),
            Ok(Expression::Variable("isOpen".to_owned()))
        );
    }

    #[test]
    fn function_call_errors_point_at_the_name() {
        let cases: [(&str, usize, &str); 7] = [
            (
                "a && isopen('x')",
                6,
                "unknown function `isopen` (the functions are: `isOpen`)",
            ),
            (
                "now()",
                1,
                "unknown function `now` (the functions are: `isOpen`)",
            ),
            ("1 + isOpen()", 5, "`isOpen` takes 1 argument, found 0"),
            ("isOpen('a', 'b')", 1, "`isOpen` takes 1 argument, found 2"),
            (
                "isOpen('a' 'b')",
                12,
                "expected `,` or `)`, found string \"b\"",
            ),
            ("isOpen(", 8, "expected a value, found end of expression"),
            ("isOpen('a',)", 12, "expected a value, found `)`"),
        ];
        for (text, column, message) in cases {
            let error = Expression::parse(text, 0).expect_err(text);
            assert_eq!(
                (error.column, error.kind.to_string()),
                (column, message.to_owned()),
                "{text}"
            );
        }
        let error = Expression::parse("a, b", 0).expect_err("stray comma");
        assert_eq!(error.column, 2);
        // Nesting through calls is bounded too.
        let text = "isOpen(".repeat(100) + "'x'" + &")".repeat(100);
        let error = Expression::parse(&text, 0).expect_err("too deep");
        assert!(matches!(error.kind, ExpressionErrorKind::TooDeep { .. }));
    }
}
