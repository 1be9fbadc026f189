//! Prompt decoding (placeholder).
