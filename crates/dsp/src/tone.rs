//! Tone generators (placeholder).
