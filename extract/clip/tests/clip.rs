//! dist-clip integration tests, one binary (link once).

mod clip {
    mod builtin; // random builtins: determinism, shapes, dtypes, prompts
    mod errors; // wrong, partial and non-checkpoint files
    mod parity; // transformers / open_clip outputs, within 1e-4
    mod tokenizer; // ids equal transformers' CLIPTokenizer
    pub(crate) mod util;
}
