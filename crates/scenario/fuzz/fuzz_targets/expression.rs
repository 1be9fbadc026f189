//! Arbitrary text as an expression and as a template: parsing and evaluating never panic.
#![no_main]

use std::collections::BTreeMap;

use ivory_scenario::expression::{Expression, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let variables = BTreeMap::from([
        ("a".to_owned(), "1".to_owned()),
        ("b".to_owned(), "text".to_owned()),
        ("c.d".to_owned(), "-2.5".to_owned()),
    ]);
    if let Ok(expression) = Expression::parse(&text, 0) {
        let _ = expression.evaluate(&variables);
    }
    if let Ok(template) = Template::parse(&text) {
        let _ = template.render(&variables);
    }
});
