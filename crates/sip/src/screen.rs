//! Datagram screening (placeholder).
