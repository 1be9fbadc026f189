//! The languages `say` and `capture` accept: Infobip-style codes (`en`, `en-US`, `sv-SE`, ...),
//! matched case-insensitively with `-` or `_`. These are the languages the default engine
//! (espeak-ng) has voices for; a code outside the list is a compile error that names the list, so
//! a typo is found when the scenario is loaded, not during a call.

/// Every accepted code, lower case with `-`.
pub const LANGUAGES: &[&str] = &[
    "ar", "bg", "ca", "cs", "cy", "da", "de", "de-at", "de-ch", "de-de", "el", "en", "en-au",
    "en-gb", "en-ie", "en-in", "en-nz", "en-uk", "en-us", "en-za", "es", "es-419", "es-es",
    "es-mx", "es-us", "et", "eu", "fa", "fi", "fr", "fr-be", "fr-ca", "fr-ch", "fr-fr", "ga", "he",
    "hi", "hr", "hu", "id", "is", "it", "it-it", "ja", "ko", "lt", "lv", "ms", "nb", "nb-no", "nl",
    "nl-be", "nl-nl", "no", "pl", "pl-pl", "pt", "pt-br", "pt-pt", "ro", "ru", "ru-ru", "sk", "sl",
    "sq", "sr", "sv", "sv-se", "sw", "ta", "th", "tr", "tr-tr", "uk", "ur", "vi", "zh", "zh-cn",
];

/// Whether `code` is accepted.
pub fn is_known(code: &str) -> bool {
    let normal = code.trim().to_ascii_lowercase().replace('_', "-");
    LANGUAGES.contains(&normal.as_str())
}

/// The error for an unknown code.
pub fn unknown(code: &str) -> String {
    format!(
        "{code:?} is not a language this server speaks; use one of: {}",
        LANGUAGES.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_in_any_case_and_separator() {
        for code in ["en-US", "en_us", "SV-SE", "de", "pt-BR", "zh"] {
            assert!(is_known(code), "{code}");
        }
        for code in ["klingon", "en-XX", "", "e n"] {
            assert!(!is_known(code), "{code}");
        }
        assert!(unknown("xx").contains("en-us"));
    }

    #[test]
    fn an_unknown_language_fails_compilation_at_its_path() {
        let scenario = serde_json::json!({"name": "x", "script": [
            {"say": "Hej", "options": {"language": "sv-SE"}},
            {"say": "Hi", "options": {"language": "xx-YY"}},
            {"capture": "answer", "timeout": 5,
             "speechOptions": {"language": "tlh", "keyPhrases": ["yes"]}}
        ]});
        let errors = crate::compile_value(&scenario).expect_err("two unknown languages");
        let paths: Vec<String> = errors
            .errors
            .iter()
            .map(|diagnostic| diagnostic.path.to_string())
            .collect();
        assert_eq!(
            paths,
            vec![
                "script[1].options.language",
                "script[2].speechOptions.language"
            ],
            "{errors}"
        );
        assert!(errors.to_string().contains("sv-se"));
    }
}
