//! Decoding with pocketsphinx (Debian's `libpocketsphinx-dev` and `pocketsphinx-en-us`, through
//! the `pocketsphinx` crate).
//!
//! A [`PocketsphinxRecogniser`] owns its decoders, which are not thread-safe: create one per
//! thread that recognises (the engine runs a small pool of such threads). Per utterance:
//! - the audio is widened to 16 kHz ([`crate::widen`]);
//! - the transcript comes from the statistical language model (`en-us.lm.bin` with the full
//!   pronouncing dictionary): free text for `<var>_Full`;
//! - with key phrases, the same audio is decoded again with the key-phrase grammar
//!   ([`crate::grammar`]), which is what decides the match. Grammar decoders are kept for the
//!   last [`GRAMMAR_DECODERS_KEPT`] key-phrase sets, since building one loads the acoustic model.
//!
//! The crate asserts (panics) where it should return errors, e.g. when a model file is missing:
//! [`ModelPaths::check`] runs first, and every call into it is guarded so a panic becomes an
//! [`AsrError`].

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pocketsphinx::{CmdLn, PsDecoder};

use crate::grammar::{self, PronouncingDictionary};
use crate::{AsrError, Transcript};

/// Grammar decoders kept per recogniser.
pub const GRAMMAR_DECODERS_KEPT: usize = 8;
/// Debian's model directory.
pub const DEBIAN_MODEL_DIRECTORY: &str = "/usr/share/pocketsphinx/model/en-us";
/// The word insertion penalty of grammar decoding. Every garbage phone is a word, so this is
/// what makes the garbage path cost more than a key phrase that fits; tuned on the 48-utterance
/// espeak-ng set after endpointing (1e-4: 41/48 right, 3e-5: 42/48, 1e-5: 41/48, 3e-6: 40/48;
/// see the `key_phrase_sweep` example).
pub const GRAMMAR_WORD_INSERTION_PENALTY: f64 = 3e-5;
/// pocketsphinx's default language weight, which the grammar decoders keep.
pub const GRAMMAR_LANGUAGE_WEIGHT: f64 = 6.5;

/// The grammar decoders' two knobs; [`GrammarTuning::default`] is what the server uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrammarTuning {
    /// `-wip`: the cost of every word, each garbage phone included.
    pub word_insertion_penalty: f64,
    /// `-lw`: how much the grammar weighs against the acoustics.
    pub language_weight: f64,
}

impl Default for GrammarTuning {
    fn default() -> Self {
        Self {
            word_insertion_penalty: GRAMMAR_WORD_INSERTION_PENALTY,
            language_weight: GRAMMAR_LANGUAGE_WEIGHT,
        }
    }
}

/// Where the model's pieces are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// The acoustic model directory (`mdef`, `means`, ...).
    pub acoustic_model: PathBuf,
    /// The statistical language model.
    pub language_model: PathBuf,
    /// The pronouncing dictionary.
    pub dictionary: PathBuf,
}

impl ModelPaths {
    /// The layout of Debian's `pocketsphinx-en-us` under `directory`.
    pub fn in_directory(directory: &Path) -> Self {
        Self {
            acoustic_model: directory.join("en-us"),
            language_model: directory.join("en-us.lm.bin"),
            dictionary: directory.join("cmudict-en-us.dict"),
        }
    }

    /// Every file the decoders will open exists (so that the crate never asserts on them).
    pub fn check(&self) -> Result<(), AsrError> {
        let needed = [
            self.acoustic_model.join("mdef"),
            self.acoustic_model.join("means"),
            self.acoustic_model.join("variances"),
            self.acoustic_model.join("transition_matrices"),
            self.acoustic_model.join("feat.params"),
            self.language_model.clone(),
            self.dictionary.clone(),
        ];
        match needed.into_iter().find(|path| !path.is_file()) {
            Some(path) => Err(AsrError::MissingModel { path }),
            None => Ok(()),
        }
    }

    fn text(path: &Path) -> Result<String, AsrError> {
        path.to_str()
            .map(str::to_owned)
            .ok_or_else(|| AsrError::Decoder(format!("{} is not UTF-8", path.display())))
    }
}

/// The pronouncing dictionary, loaded once and shared by every recogniser.
pub fn load_dictionary(paths: &ModelPaths) -> Result<Arc<PronouncingDictionary>, AsrError> {
    let text = std::fs::read_to_string(&paths.dictionary).map_err(|error| AsrError::Io {
        path: paths.dictionary.clone(),
        reason: error.to_string(),
    })?;
    Ok(Arc::new(PronouncingDictionary::parse(&text)))
}

/// See the module docs.
pub struct PocketsphinxRecogniser {
    paths: ModelPaths,
    dictionary: Arc<PronouncingDictionary>,
    language: Option<PsDecoder>,
    /// Most recently used last.
    grammars: Vec<(Vec<String>, GrammarDecoder)>,
    scratch: PathBuf,
    tuning: GrammarTuning,
}

struct GrammarDecoder {
    decoder: PsDecoder,
    /// Key phrases the grammar could not hold.
    left_out: Vec<String>,
}

impl std::fmt::Debug for PocketsphinxRecogniser {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PocketsphinxRecogniser")
            .field("paths", &self.paths)
            .field("grammars", &self.grammars.len())
            .finish()
    }
}

impl PocketsphinxRecogniser {
    /// A recogniser on checked `paths`; decoders are created on first use.
    pub fn new(
        paths: ModelPaths,
        dictionary: Arc<PronouncingDictionary>,
    ) -> Result<Self, AsrError> {
        paths.check()?;
        let scratch = std::env::temp_dir().join(format!("ivory-asr-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(|error| AsrError::Io {
            path: scratch.clone(),
            reason: error.to_string(),
        })?;
        Ok(Self {
            paths,
            dictionary,
            language: None,
            grammars: Vec::new(),
            scratch,
            tuning: GrammarTuning::default(),
        })
    }

    /// Sets the grammar decoders' tuning (for measuring it); grammar decoders already built are
    /// dropped.
    pub fn set_grammar_tuning(&mut self, tuning: GrammarTuning) {
        self.tuning = tuning;
        self.grammars.clear();
    }

    /// What the key-phrase grammar alone hears in one utterance (no free transcript): the key
    /// phrases in order, "" for none. For tuning, where the language-model pass would only cost.
    pub fn recognise_key_phrases(
        &mut self,
        audio: &[i16],
        key_phrases: &[String],
    ) -> Result<String, AsrError> {
        if audio.is_empty() {
            return Ok(String::new());
        }
        let wide = crate::widen::widen_telephone_audio(audio);
        Ok(self
            .heard_by_grammar(&wide, key_phrases)?
            .map(|(heard, _)| heard)
            .unwrap_or_default())
    }

    /// What the key-phrase grammar hears in 16 kHz `wide` audio, and whether some phrases had
    /// to be left out of the grammar; `None` when no phrase could be in one.
    fn heard_by_grammar(
        &mut self,
        wide: &[i16],
        key_phrases: &[String],
    ) -> Result<Option<(String, bool)>, AsrError> {
        let Some(grammar) = self.grammar_decoder(key_phrases)? else {
            return Ok(None);
        };
        let heard = grammar::strip_garbage(&decode(&grammar.decoder, wide)?);
        Ok(Some((heard, !grammar.left_out.is_empty())))
    }

    /// Creates the language-model decoder now (it takes about a second), so the first caller
    /// does not wait for it.
    pub fn warm_up(&mut self) -> Result<(), AsrError> {
        self.language_decoder().map(|_| ())
    }

    /// Recognises one utterance of 8 kHz telephone audio.
    pub fn recognise(
        &mut self,
        audio: &[i16],
        key_phrases: &[String],
    ) -> Result<Transcript, AsrError> {
        if audio.is_empty() {
            return Ok(Transcript::default());
        }
        let wide = crate::widen::widen_telephone_audio(audio);
        let text = decode(self.language_decoder()?, &wide)?;
        let text = grammar::strip_garbage(&text);
        if key_phrases.is_empty() {
            return Ok(Transcript {
                text,
                key_phrases_heard: None,
            });
        }
        let heard = match self.heard_by_grammar(&wide, key_phrases)? {
            Some((heard, false)) => heard,
            // Some phrases could not be in the grammar: look for them in the free transcript too.
            Some((heard, true)) => format!("{heard} {text}").trim().to_owned(),
            None => text.clone(),
        };
        Ok(Transcript {
            text,
            key_phrases_heard: Some(heard),
        })
    }

    fn language_decoder(&mut self) -> Result<&PsDecoder, AsrError> {
        if self.language.is_none() {
            let arguments = [
                "-hmm".to_owned(),
                ModelPaths::text(&self.paths.acoustic_model)?,
                "-lm".to_owned(),
                ModelPaths::text(&self.paths.language_model)?,
                "-dict".to_owned(),
                ModelPaths::text(&self.paths.dictionary)?,
            ];
            self.language = Some(create_decoder(&arguments)?);
        }
        self.language
            .as_ref()
            .ok_or_else(|| AsrError::Decoder("no language-model decoder".into()))
    }

    fn grammar_decoder(
        &mut self,
        key_phrases: &[String],
    ) -> Result<Option<&GrammarDecoder>, AsrError> {
        let key = key_phrases.to_vec();
        if let Some(position) = self
            .grammars
            .iter()
            .position(|(phrases, _)| *phrases == key)
        {
            let entry = self.grammars.remove(position);
            self.grammars.push(entry);
        } else {
            let Some(grammar) = grammar::build(key_phrases, &self.dictionary) else {
                return Ok(None);
            };
            let decoder = self.create_grammar_decoder(&key, &grammar)?;
            if self.grammars.len() >= GRAMMAR_DECODERS_KEPT {
                self.grammars.remove(0);
            }
            self.grammars.push((
                key,
                GrammarDecoder {
                    decoder,
                    left_out: grammar.left_out,
                },
            ));
        }
        Ok(self.grammars.last().map(|(_, decoder)| decoder))
    }

    fn create_grammar_decoder(
        &self,
        key: &[String],
        grammar: &grammar::KeyPhraseGrammar,
    ) -> Result<PsDecoder, AsrError> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let stem = self.scratch.join(format!("{:016x}", hasher.finish()));
        let (grammar_path, dictionary_path) =
            (stem.with_extension("gram"), stem.with_extension("dict"));
        for (path, text) in [
            (&grammar_path, &grammar.jsgf),
            (&dictionary_path, &grammar.dictionary),
        ] {
            std::fs::write(path, text).map_err(|error| AsrError::Io {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        }
        let arguments = [
            "-hmm".to_owned(),
            ModelPaths::text(&self.paths.acoustic_model)?,
            "-jsgf".to_owned(),
            ModelPaths::text(&grammar_path)?,
            "-dict".to_owned(),
            ModelPaths::text(&dictionary_path)?,
            "-wip".to_owned(),
            format!("{:e}", self.tuning.word_insertion_penalty),
            "-lw".to_owned(),
            format!("{}", self.tuning.language_weight),
        ];
        let decoder = create_decoder(&arguments);
        // The decoder has read both files.
        std::fs::remove_file(&grammar_path).ok();
        std::fs::remove_file(&dictionary_path).ok();
        decoder
    }
}

/// A decoder for command-line style `arguments` (logging off).
fn create_decoder(arguments: &[String]) -> Result<PsDecoder, AsrError> {
    if arguments.iter().any(|argument| argument.contains('\0')) {
        return Err(AsrError::Decoder("a decoder argument holds a NUL".into()));
    }
    let mut all: Vec<&str> = arguments.iter().map(String::as_str).collect();
    all.extend(["-logfn", "/dev/null"]);
    guarded(move || {
        let configuration = CmdLn::init(true, &all)
            .map_err(|_| AsrError::Decoder(format!("pocketsphinx refused {all:?}")))?;
        Ok(PsDecoder::init(configuration))
    })
}

/// The hypothesis for one whole utterance of 16 kHz audio ("" when nothing was recognised).
fn decode(decoder: &PsDecoder, audio: &[i16]) -> Result<String, AsrError> {
    guarded(|| {
        let failed = |step: &str| AsrError::Decoder(format!("pocketsphinx failed to {step}"));
        decoder.start_utt(None).map_err(|_| failed("start"))?;
        decoder
            .process_raw(audio, false, true)
            .map_err(|_| failed("decode"))?;
        decoder.end_utt().map_err(|_| failed("end"))?;
        Ok(decoder
            .get_hyp()
            .map(|(text, _, _)| text)
            .unwrap_or_default())
    })
}

/// Runs `work`, turning a panic inside the pocketsphinx crate into an error.
fn guarded<T>(work: impl FnOnce() -> Result<T, AsrError>) -> Result<T, AsrError> {
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(AsrError::Decoder("pocketsphinx panicked".into())))
}
