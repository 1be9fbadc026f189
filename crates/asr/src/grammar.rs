//! Key phrases as a JSGF grammar with a garbage path, and the small dictionary it needs.
//!
//! A caller rarely says only the key phrase: "yes I want more info" must still match "more info".
//! A grammar of the key phrases alone would force every utterance into one of them; a grammar
//! with a garbage path lets the decoder explain the rest of the audio as something else:
//!
//! ```text
//! public <utterance> = [<garbage>] <phrase> ([<garbage>] <phrase>)* [<garbage>] | <garbage>;
//! <phrase> = yes | more info | ...;
//! <garbage> = (gbg_aa | gbg_ae | ... )+;
//! ```
//!
//! The garbage is a loop over every English phone, each entered in the dictionary as a one-phone
//! "word" (`gbg_aa  AA`): anything that is not a key phrase decodes as phones, which
//! [`strip_garbage`] removes. The decoder's word insertion penalty (set by
//! [`crate::sphinx`]) makes a phone loop cost more than the key phrase that fits the same audio,
//! so a key phrase wins when it was said and garbage wins when it was not.
//!
//! Words are matched lowercase, letters and apostrophes only; a key phrase with a word the
//! pronouncing dictionary does not know is left out of the grammar (and reported), since the
//! decoder could not recognise it anyway.

use std::collections::{BTreeMap, HashMap};

/// The en-us model's phones (its `mdef`, without silence).
pub const PHONES: [&str; 39] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
];

/// Garbage words start with this.
pub const GARBAGE_PREFIX: &str = "gbg_";

/// Word → pronunciations, from a CMU-format dictionary (`word PH ON ES`, variants as `word(2)`).
#[derive(Debug, Default)]
pub struct PronouncingDictionary {
    words: HashMap<String, Vec<String>>,
}

impl PronouncingDictionary {
    /// Parses the dictionary's text; lines that do not look like entries are skipped.
    pub fn parse(text: &str) -> Self {
        let mut words: HashMap<String, Vec<String>> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(head), Some(first_phone)) = (parts.next(), parts.next()) else {
                continue;
            };
            let word = head.split('(').next().unwrap_or(head).to_lowercase();
            let phones: Vec<&str> = std::iter::once(first_phone).chain(parts).collect();
            words.entry(word).or_default().push(phones.join(" "));
        }
        Self { words }
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when it has no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn pronunciations(&self, word: &str) -> Option<&[String]> {
        self.words.get(word).map(Vec::as_slice)
    }
}

/// A key-phrase grammar ready for the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPhraseGrammar {
    /// The JSGF text.
    pub jsgf: String,
    /// The dictionary the grammar's words need (key-phrase words and garbage phones).
    pub dictionary: String,
    /// Key phrases left out because a word is not in the pronouncing dictionary.
    pub left_out: Vec<String>,
}

/// The words of a phrase as the grammar and the matcher see them: lowercase, letters and
/// apostrophes, split on anything else.
pub fn phrase_words(phrase: &str) -> Vec<String> {
    phrase
        .split(|c: char| !(c.is_alphabetic() || c == '\''))
        .map(|word| word.trim_matches('\'').to_lowercase())
        .filter(|word| !word.is_empty())
        .collect()
}

/// Builds the grammar for `phrases`; `None` when no phrase could be kept.
pub fn build(phrases: &[String], dictionary: &PronouncingDictionary) -> Option<KeyPhraseGrammar> {
    let mut kept: Vec<String> = Vec::new();
    let mut left_out = Vec::new();
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for phrase in phrases {
        let words = phrase_words(phrase);
        let known = !words.is_empty()
            && words
                .iter()
                .all(|word| dictionary.pronunciations(word).is_some());
        if !known {
            left_out.push(phrase.clone());
            continue;
        }
        for word in &words {
            if let Some(pronunciations) = dictionary.pronunciations(word) {
                entries.insert(word.clone(), pronunciations.to_vec());
            }
        }
        let alternative = words.join(" ");
        if !kept.contains(&alternative) {
            kept.push(alternative);
        }
    }
    if kept.is_empty() {
        return None;
    }
    let mut dictionary_text = String::new();
    for (word, pronunciations) in &entries {
        for (index, phones) in pronunciations.iter().enumerate() {
            let name = if index == 0 {
                word.clone()
            } else {
                format!("{word}({})", index + 1)
            };
            dictionary_text.push_str(&format!("{name} {phones}\n"));
        }
    }
    let garbage: Vec<String> = PHONES
        .iter()
        .map(|phone| {
            let word = format!("{GARBAGE_PREFIX}{}", phone.to_lowercase());
            dictionary_text.push_str(&format!("{word} {phone}\n"));
            word
        })
        .collect();
    let jsgf = format!(
        "#JSGF V1.0;\ngrammar ivory_key_phrases;\n\
         public <utterance> = [<garbage>] <phrase> ([<garbage>] <phrase>)* [<garbage>] | <garbage>;\n\
         <phrase> = {};\n<garbage> = ({})+;\n",
        kept.join(" | "),
        garbage.join(" | ")
    );
    Some(KeyPhraseGrammar {
        jsgf,
        dictionary: dictionary_text,
        left_out,
    })
}

/// A decoded hypothesis without its garbage words: the key phrases heard, in order.
pub fn strip_garbage(hypothesis: &str) -> String {
    hypothesis
        .split_whitespace()
        .filter(|word| !word.starts_with(GARBAGE_PREFIX) && !word.starts_with('<'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DICTIONARY: &str = "info IH N F OW\nmore M AO R\nyes Y EH S\nagent EY JH AH N T\n\
                              either IY DH ER\neither(2) AY DH ER\n";

    fn phrases(items: &[&str]) -> Vec<String> {
        items.iter().map(|p| (*p).to_string()).collect()
    }

    #[test]
    fn words_are_lowercase_letters_and_apostrophes() {
        assert_eq!(
            phrase_words("More-Info, please!"),
            ["more", "info", "please"]
        );
        assert_eq!(phrase_words("don't 'quote'"), ["don't", "quote"]);
        assert!(phrase_words("  42 ?").is_empty());
    }

    #[test]
    fn the_grammar_has_each_phrase_and_a_garbage_loop_and_its_words_in_the_dictionary() {
        let dictionary = PronouncingDictionary::parse(DICTIONARY);
        assert_eq!(dictionary.len(), 5);
        let grammar = build(
            &phrases(&["Yes", "more info", "yes", "either", "ivory"]),
            &dictionary,
        )
        .unwrap();
        assert!(
            grammar
                .jsgf
                .contains("<phrase> = yes | more info | either;")
        );
        assert!(grammar.jsgf.contains("gbg_aa | gbg_ae"));
        assert!(grammar.dictionary.contains("more M AO R\n"));
        assert!(grammar.dictionary.contains("either(2) AY DH ER\n"));
        assert!(grammar.dictionary.contains("gbg_zh ZH\n"));
        assert!(!grammar.dictionary.contains("agent"), "only the words used");
        assert_eq!(grammar.left_out, ["ivory"]);
    }

    #[test]
    fn no_known_phrase_means_no_grammar() {
        let dictionary = PronouncingDictionary::parse(DICTIONARY);
        assert_eq!(build(&phrases(&["ivory", "!!"]), &dictionary), None);
        assert_eq!(build(&[], &dictionary), None);
    }

    #[test]
    fn garbage_is_stripped_from_a_hypothesis() {
        assert_eq!(
            strip_garbage("gbg_y gbg_eh more info gbg_s <sil> yes"),
            "more info yes"
        );
        assert_eq!(strip_garbage("gbg_n gbg_ow"), "");
    }
}
