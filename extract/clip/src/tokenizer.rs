//! CLIP's byte-level BPE tokenizer (49408 tokens, context 77), matching transformers' `CLIPTokenizer`.
//!
//! The pipeline is transformers' (v5, `tokenization_clip.py`): literal `<|startoftext|>` /
//! `<|endoftext|>` in the text become the special ids; every other span is NFC-normalised, whitespace
//! runs become one space, characters are lower-cased one by one, the span is split with CLIP's regex
//! (contractions, letter runs, single digits, other-symbol runs; whitespace dropped), each piece is
//! mapped to byte-level characters with `</w>` on its last one and merged by BPE rank. A row is
//! SOT + at most `context − 2` ids + EOT, zero-padded (OpenAI's and open_clip's padding).
//!
//! Not done: ftfy's mojibake / ligature / full-width repairs and HTML unescaping, which open_clip's
//! tokenizer applies and transformers' does not (they only change text that needs such repairs).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::error::{ClipError, Result};

/// The BPE merge list, gzipped (OpenAI's `bpe_simple_vocab_16e6.txt.gz`, MIT).
const VOCAB_GZ: &[u8] = include_bytes!("../assets/bpe_simple_vocab_16e6.txt.gz");
/// Merges used by CLIP: the vocabulary is 256 bytes x 2 (+`</w>`) + merges + 2 specials = 49408.
const MERGES: usize = 49152 - 256 - 2;
/// Size of CLIP's vocabulary.
pub const VOCAB_SIZE: usize = 49408;
/// `<|startoftext|>`.
pub const SOT: u32 = 49406;
/// `<|endoftext|>`.
pub const EOT: u32 = 49407;
/// CLIP's context length.
pub const CONTEXT_LENGTH: usize = 77;

const SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// The tokenizer. Build it once ([`Tokenizer::shared`]); it holds the 49408-entry vocabulary.
pub struct Tokenizer {
    byte_chars: [char; 256],
    encoder: HashMap<String, u32>,
    /// `(left id, right id) -> (rank, merged id)`.
    merges: HashMap<(u32, u32), (u32, u32)>,
    split: Regex,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab", &self.encoder.len())
            .finish_non_exhaustive()
    }
}

/// GPT-2's reversible byte -> printable character map.
fn bytes_to_unicode() -> [char; 256] {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~')).collect();
    printable.extend(u32::from('¡')..=u32::from('¬'));
    printable.extend(u32::from('®')..=u32::from('ÿ'));
    let mut map = ['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        map[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    map
}

impl Tokenizer {
    /// Decompresses and indexes the embedded vocabulary (~0.3 s).
    ///
    /// # Errors
    /// [`ClipError::Vocabulary`] if the embedded file is corrupt (a broken build).
    pub fn new() -> Result<Self> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(VOCAB_GZ)
            .read_to_string(&mut text)
            .map_err(|e| ClipError::Vocabulary(e.to_string()))?;
        let merge_lines: Vec<(&str, &str)> = text
            .lines()
            .skip(1)
            .take(MERGES)
            .map(|l| {
                l.split_once(' ')
                    .ok_or_else(|| ClipError::Vocabulary(format!("bad merge line {l:?}")))
            })
            .collect::<Result<_>>()?;
        if merge_lines.len() != MERGES {
            return Err(ClipError::Vocabulary(format!(
                "{} merges, expected {MERGES}",
                merge_lines.len()
            )));
        }
        let byte_chars = bytes_to_unicode();
        // Vocabulary order as OpenAI builds it: bytes in printable-first order, the same with `</w>`,
        // then one entry per merge, then the two specials.
        let mut order: Vec<u8> = (0..=255u8).collect();
        order.sort_by_key(|&b| u32::from(byte_chars[b as usize]));
        let mut vocab: Vec<String> = order
            .iter()
            .map(|&b| byte_chars[b as usize].to_string())
            .collect();
        vocab.extend(
            order
                .iter()
                .map(|&b| format!("{}</w>", byte_chars[b as usize])),
        );
        vocab.extend(merge_lines.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<|startoftext|>".into());
        vocab.push("<|endoftext|>".into());
        let encoder: HashMap<String, u32> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let id = |s: &str| {
            encoder
                .get(s)
                .copied()
                .ok_or_else(|| ClipError::Vocabulary(format!("{s:?} not in vocab")))
        };
        let mut merges = HashMap::with_capacity(MERGES);
        for (rank, (a, b)) in merge_lines.iter().enumerate() {
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            merges.insert((id(a)?, id(b)?), (rank, id(&format!("{a}{b}"))?));
        }
        if encoder.len() != VOCAB_SIZE || encoder.get("<|endoftext|>") != Some(&EOT) {
            return Err(ClipError::Vocabulary(format!(
                "vocabulary has {} entries",
                encoder.len()
            )));
        }
        let split = Regex::new(SPLIT).map_err(|e| ClipError::Vocabulary(e.to_string()))?;
        Ok(Self {
            byte_chars,
            encoder,
            merges,
            split,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A process-wide instance, built on first use.
    ///
    /// # Errors
    /// As [`Tokenizer::new`].
    pub fn shared() -> Result<&'static Self> {
        static SHARED: OnceLock<Tokenizer> = OnceLock::new();
        if let Some(t) = SHARED.get() {
            return Ok(t);
        }
        let built = Self::new()?;
        Ok(SHARED.get_or_init(|| built))
    }

    /// BPE ids of a text, without start/end tokens or truncation.
    #[must_use]
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        // Literal special tokens are matched on the raw text, before any normalisation.
        while let Some((at, token, id)) = next_special(rest) {
            self.encode_span(&rest[..at], &mut ids);
            ids.push(id);
            rest = &rest[at + token.len()..];
        }
        self.encode_span(rest, &mut ids);
        ids
    }

    /// One row for the text tower: SOT, the first `context − 2` BPE ids, EOT, zeros up to `context`.
    #[must_use]
    pub fn tokenize(&self, text: &str, context: usize) -> Vec<i64> {
        let mut ids = self.encode(text);
        ids.truncate(context.saturating_sub(2));
        let mut row = Vec::with_capacity(context);
        row.push(i64::from(SOT));
        row.extend(ids.into_iter().map(i64::from));
        row.push(i64::from(EOT));
        row.resize(context.max(row.len()), 0);
        row
    }

    /// The vocabulary string of an id (`</w>` marks a word end), for debugging.
    #[must_use]
    pub fn token(&self, id: u32) -> Option<&str> {
        self.encoder
            .iter()
            .find(|(_, &v)| v == id)
            .map(|(k, _)| k.as_str())
    }

    fn encode_span(&self, span: &str, ids: &mut Vec<u32>) {
        if span.is_empty() {
            return;
        }
        let normalised = normalise(span);
        for piece in self.split.find_iter(&normalised) {
            self.encode_word(piece.as_str(), ids);
        }
    }

    fn encode_word(&self, word: &str, ids: &mut Vec<u32>) {
        if let Some(cached) = self.cache.lock().ok().and_then(|c| c.get(word).cloned()) {
            ids.extend(cached);
            return;
        }
        let chars: Vec<char> = word.bytes().map(|b| self.byte_chars[b as usize]).collect();
        let mut symbols: Vec<u32> = chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = if i + 1 == chars.len() {
                    format!("{c}</w>")
                } else {
                    c.to_string()
                };
                self.encoder[&s]
            })
            .collect();
        // Merge the lowest-ranked adjacent pair everywhere it occurs, until no pair is a merge.
        loop {
            let best = symbols
                .windows(2)
                .filter_map(|w| {
                    self.merges
                        .get(&(w[0], w[1]))
                        .map(|&(rank, merged)| (rank, w[0], w[1], merged))
                })
                .min_by_key(|&(rank, ..)| rank);
            let Some((_, left, right, merged)) = best else {
                break;
            };
            let mut out = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == left && symbols[i + 1] == right {
                    out.push(merged);
                    i += 2;
                } else {
                    out.push(symbols[i]);
                    i += 1;
                }
            }
            symbols = out;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() < 100_000 {
                cache.insert(word.to_string(), symbols.clone());
            }
        }
        ids.extend(symbols);
    }
}

/// The earliest literal special token in `text`: (byte offset, token, id).
fn next_special(text: &str) -> Option<(usize, &'static str, u32)> {
    [("<|startoftext|>", SOT), ("<|endoftext|>", EOT)]
        .into_iter()
        .filter_map(|(token, id)| text.find(token).map(|at| (at, token, id)))
        .min_by_key(|&(at, ..)| at)
}

/// NFC, whitespace runs to one space, per-character lower case (the `tokenizers` normaliser chain).
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.nfc() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            in_space = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_simple_prompt() {
        let t = Tokenizer::shared().unwrap();
        // Reference ids from transformers' CLIPTokenizer (openai/clip-vit-base-patch32).
        assert_eq!(
            t.encode("a photo of a cat"),
            vec![320, 1125, 539, 320, 2368]
        );
        let row = t.tokenize("a photo of a cat", 77);
        assert_eq!(row.len(), 77);
        assert_eq!(&row[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(row[7..].iter().all(|&id| id == 0));
    }

    #[test]
    fn truncation_keeps_the_end_token() {
        let t = Tokenizer::shared().unwrap();
        let row = t.tokenize(&"word ".repeat(200), 77);
        assert_eq!(row.len(), 77);
        assert_eq!(row[0], i64::from(SOT));
        assert_eq!(row[76], i64::from(EOT));
    }
}
