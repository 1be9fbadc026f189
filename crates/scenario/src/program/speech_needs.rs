//! What a compiled scenario needs from speech services, known before any call: the `say`
//! texts that are the same on every call (for warming a text-to-speech cache) and whether
//! it recognises speech (`capture`).
//!
//! A text with `${...}` depends on the call and is left out: it can only be synthesised
//! when the call renders it.

use std::collections::BTreeMap;

use super::{ActionKind, Program, Voice};

/// One `say` whose text has no `${...}`: everything a text-to-speech engine is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantSay {
    /// The text as written (it may use the SSML subset `say` understands).
    pub text: String,
    /// `options.language`, as written (`None`: the engine's default).
    pub language: Option<String>,
    /// `options.voice`.
    pub voice: Option<Voice>,
    /// `options.speechRate` (0.5–2, default 1).
    pub speech_rate: f32,
}

impl Program {
    /// Every `say` whose text is constant, in scenario order and
    /// without duplicates (the same text, language, voice and rate twice is listed once).
    pub fn constant_say_texts(&self) -> Vec<ConstantSay> {
        let mut found: Vec<ConstantSay> = Vec::new();
        for action in &self.actions {
            let ActionKind::Say(say) = &action.kind else {
                continue;
            };
            if !say.text.is_constant() {
                continue;
            }
            // A constant template renders without variables; an error cannot happen, and
            // if it did the text would simply not be warmed.
            let Ok(text) = say.text.render(&BTreeMap::new()) else {
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            let entry = ConstantSay {
                text,
                language: say.language.clone(),
                voice: say.voice.clone(),
                speech_rate: say.speech_rate,
            };
            if !found.contains(&entry) {
                found.push(entry);
            }
        }
        found
    }

    /// True when the scenario recognises speech (`capture`), so speech recognition must work.
    pub fn uses_capture(&self) -> bool {
        self.uses_action("capture")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VoiceGender;

    fn compile(script: serde_json::Value) -> Program {
        crate::compile_value(&serde_json::json!({ "name": "t", "script": script }))
            .expect("the scenario compiles")
    }

    #[test]
    fn constant_texts_are_listed_once_with_their_options() {
        let program = compile(serde_json::json!([
            { "say": "Welcome" },
            { "say": "Hello ${name}" },
            { "if": "${1 == 1}", "then": [
                { "say": "Nested", "options": { "language": "sv-SE", "speechRate": 1.5,
                    "voice": { "name": "Astrid", "gender": "female" } } },
                { "say": "Welcome" }
            ] },
            { "say": "Welcome", "options": { "speechRate": 0.5 } },
            { "say": "   " },
            "hangup"
        ]));
        let texts = program.constant_say_texts();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert_eq!(texts[0].text, "Welcome");
        assert_eq!(texts[0].language, None);
        assert_eq!(texts[0].voice, None);
        assert_eq!(texts[0].speech_rate, 1.0);
        assert_eq!(texts[1].text, "Nested");
        assert_eq!(texts[1].language.as_deref(), Some("sv-SE"));
        assert_eq!(texts[1].speech_rate, 1.5);
        assert_eq!(
            texts[1].voice,
            Some(Voice {
                name: Some("Astrid".into()),
                gender: Some(VoiceGender::Female)
            })
        );
        assert_eq!(texts[2].text, "Welcome");
        assert_eq!(texts[2].speech_rate, 0.5);
    }

    #[test]
    fn capture_is_seen_and_templated_texts_are_left_out() {
        let program = compile(serde_json::json!([
            { "capture": "answer", "timeout": 5 },
            { "say": "Bye" }
        ]));
        assert!(program.uses_capture());
        let texts: Vec<String> = program
            .constant_say_texts()
            .into_iter()
            .map(|say| say.text)
            .collect();
        assert_eq!(texts, ["Bye"]);
        let program = compile(serde_json::json!([{ "say": "${x}" }]));
        assert!(!program.uses_capture());
        assert!(program.constant_say_texts().is_empty());
    }
}
