//! Evaluation of an [`Expression`] over string variables (semantics in the module docs).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{
    BinaryOperator, EvaluationError, Expression, Function, Functions, UnaryOperator, as_number,
    boolean_text, format_number, is_truthy,
};

pub(super) fn evaluate(
    expression: &Expression,
    variables: &BTreeMap<String, String>,
    functions: &mut dyn Functions,
) -> Result<String, EvaluationError> {
    // Every recursive call passes the same variables and functions.
    let mut evaluate = |expression: &Expression| evaluate(expression, variables, functions);
    match expression {
        Expression::Literal(text) => Ok(text.clone()),
        Expression::Variable(name) => Ok(variables.get(name).cloned().unwrap_or_default()),
        Expression::Unary { operator, operand } => {
            let value = evaluate(operand)?;
            match operator {
                UnaryOperator::Not => Ok(boolean_text(!is_truthy(&value))),
                UnaryOperator::Empty => Ok(boolean_text(value.is_empty())),
                UnaryOperator::Negate => {
                    let number = number_operand("-", &value)?;
                    Ok(format_number(-number))
                }
            }
        }
        Expression::Conditional {
            condition,
            when_true,
            when_false,
        } => {
            if is_truthy(&evaluate(condition)?) {
                evaluate(when_true)
            } else {
                evaluate(when_false)
            }
        }
        Expression::Binary {
            operator: BinaryOperator::And,
            left,
            right,
        } => {
            // Short-circuit: the right side is not evaluated (and cannot fail) when the
            // left side already decides.
            let result = is_truthy(&evaluate(left)?) && is_truthy(&evaluate(right)?);
            Ok(boolean_text(result))
        }
        Expression::Binary {
            operator: BinaryOperator::Or,
            left,
            right,
        } => {
            let result = is_truthy(&evaluate(left)?) || is_truthy(&evaluate(right)?);
            Ok(boolean_text(result))
        }
        Expression::Binary {
            operator,
            left,
            right,
        } => {
            let left = evaluate(left)?;
            let right = evaluate(right)?;
            binary(*operator, &left, &right)
        }
        Expression::Call {
            function,
            arguments,
            ..
        } => {
            let mut values = Vec::with_capacity(arguments.len());
            for argument in arguments {
                values.push(evaluate(argument)?);
            }
            // The parser checks the number of arguments; a hand-built call with too few
            // reads the missing ones as "".
            let first = values.first().map_or("", String::as_str);
            match function {
                Function::IsOpen => Ok(boolean_text(functions.is_open(first))),
            }
        }
    }
}

fn binary(operator: BinaryOperator, left: &str, right: &str) -> Result<String, EvaluationError> {
    use BinaryOperator as Op;
    let ordering = || compare(left, right);
    match operator {
        Op::Equal => Ok(boolean_text(ordering() == Ordering::Equal)),
        Op::NotEqual => Ok(boolean_text(ordering() != Ordering::Equal)),
        Op::Less => Ok(boolean_text(ordering() == Ordering::Less)),
        Op::Greater => Ok(boolean_text(ordering() == Ordering::Greater)),
        Op::LessOrEqual => Ok(boolean_text(ordering() != Ordering::Greater)),
        Op::GreaterOrEqual => Ok(boolean_text(ordering() != Ordering::Less)),
        Op::Add => match (as_number(left), as_number(right)) {
            (Some(left), Some(right)) => finite("+", left + right),
            _ => Ok(format!("{left}{right}")),
        },
        Op::Subtract | Op::Multiply | Op::Divide | Op::Remainder => {
            let symbol = operator.symbol();
            let left = number_operand(symbol, left)?;
            let right = number_operand(symbol, right)?;
            match operator {
                Op::Subtract => finite(symbol, left - right),
                Op::Multiply => finite(symbol, left * right),
                _ if right == 0.0 => Err(EvaluationError::DivisionByZero),
                Op::Divide => finite(symbol, left / right),
                _ => finite(symbol, left % right),
            }
        }
        // Handled with short-circuit in `evaluate`; kept total for safety.
        Op::And => Ok(boolean_text(is_truthy(left) && is_truthy(right))),
        Op::Or => Ok(boolean_text(is_truthy(left) || is_truthy(right))),
    }
}

/// Numeric order when both sides are numbers, byte-wise string order otherwise.
fn compare(left: &str, right: &str) -> Ordering {
    match (as_number(left), as_number(right)) {
        (Some(left), Some(right)) => left.partial_cmp(&right).unwrap_or(Ordering::Equal),
        _ => left.cmp(right),
    }
}

fn number_operand(operator: &'static str, value: &str) -> Result<f64, EvaluationError> {
    as_number(value).ok_or_else(|| EvaluationError::NotANumber {
        operator,
        value: value.to_owned(),
    })
}

fn finite(operator: &'static str, number: f64) -> Result<String, EvaluationError> {
    if number.is_finite() {
        Ok(format_number(number))
    } else {
        Err(EvaluationError::NotFinite { operator })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EvaluationError, Expression};
    use std::collections::BTreeMap;

    fn variables() -> BTreeMap<String, String> {
        [
            ("choice", "1"),
            ("name", "Ada"),
            ("count", "10"),
            ("caller.number", "+4670"),
            ("flag", "false"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    fn run(text: &str) -> Result<String, EvaluationError> {
        Expression::parse(text, 0)
            .unwrap_or_else(|error| panic!("{text}: {error}"))
            .evaluate(&variables())
    }

    #[test]
    fn evaluates_the_documented_semantics() {
        let cases = [
            ("choice == '1'", "true"),
            ("choice == 1", "true"),
            ("choice eq \"1.0\"", "true"),
            ("choice != 1", "false"),
            ("choice ne 2", "true"),
            ("count > 9", "true"),
            ("count gt '9'", "true"),
            ("'10' < '9'", "false"),
            ("'abc' < 'abd'", "true"),
            ("'b' >= 'a'", "true"),
            ("count <= 10 && count >= 10", "true"),
            ("count le 9 or count ge 11", "false"),
            ("!flag", "true"),
            ("not choice", "false"),
            ("empty missing", "true"),
            ("empty name", "false"),
            ("missing == ''", "true"),
            ("null == ''", "true"),
            ("1 + 2 * 3", "7"),
            ("(1 + 2) * 3", "9"),
            ("7 / 2", "3.5"),
            ("6 div 2", "3"),
            ("7 % 3", "1"),
            ("7 mod 3", "1"),
            ("-count + 1", "-9"),
            ("'Hello ' + name", "Hello Ada"),
            ("name + 1", "Ada1"),
            ("count > 5 ? 'big' : 'small'", "big"),
            ("flag ? 'yes' : missing ? 'x' : 'no'", "no"),
            ("caller.number", "+4670"),
            ("true && 'yes'", "true"),
            ("0 || ''", "false"),
        ];
        for (text, expected) in cases {
            assert_eq!(run(text).as_deref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn run_time_errors() {
        assert_eq!(run("count / 0"), Err(EvaluationError::DivisionByZero));
        assert_eq!(run("count % 0"), Err(EvaluationError::DivisionByZero));
        assert_eq!(
            run("name - 1"),
            Err(EvaluationError::NotANumber {
                operator: "-",
                value: "Ada".to_owned()
            })
        );
        assert!(run("-name").is_err());
        // Short-circuit keeps the failing side unevaluated.
        assert_eq!(run("flag && 1 / 0").as_deref(), Ok("false"));
        assert_eq!(run("choice || 1 / 0").as_deref(), Ok("true"));
    }

    /// Open schedules by name; records every question.
    struct FakeSchedules {
        open: Vec<&'static str>,
        asked: Vec<String>,
    }

    impl super::super::Functions for FakeSchedules {
        fn is_open(&mut self, schedule: &str) -> bool {
            self.asked.push(schedule.to_owned());
            self.open.contains(&schedule)
        }
    }

    #[test]
    fn functions_are_answered_by_the_caller() {
        let mut schedules = FakeSchedules {
            open: vec!["office"],
            asked: Vec::new(),
        };
        let cases = [
            ("isOpen('office')", "true"),
            ("isOpen('support')", "false"),
            ("!isOpen('support') && choice == 1", "true"),
            (
                "isOpen(name == 'Ada' ? 'office' : 'x') ? 'open' : 'closed'",
                "open",
            ),
            ("isOpen('office') + '!'", "true!"),
        ];
        for (text, expected) in cases {
            let expression = Expression::parse(text, 0).expect(text);
            assert_eq!(
                expression
                    .evaluate_with(&variables(), &mut schedules)
                    .as_deref(),
                Ok(expected),
                "{text}"
            );
        }
        assert_eq!(
            schedules.asked,
            ["office", "support", "support", "office", "office"]
        );
        // Short-circuit: the schedule is not asked about when the left side decides.
        schedules.asked.clear();
        let expression = Expression::parse("flag && isOpen('office')", 0).expect("valid");
        assert_eq!(
            expression
                .evaluate_with(&variables(), &mut schedules)
                .as_deref(),
            Ok("false")
        );
        assert!(schedules.asked.is_empty());
        // Without functions, isOpen is false.
        assert_eq!(run("isOpen('office')").as_deref(), Ok("false"));
    }
}
