//! ivory's SIP user agent (placeholder while the crate is written).
//!
//! Modules: `screen` (datagram pre-checks rsipstack lacks), `sdp` (offer/answer),
//! `endpoint` (rsipstack glue).
#![forbid(unsafe_code)]

pub mod screen;
pub mod sdp;
