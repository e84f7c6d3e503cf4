//! FC's trigger events: the only place that knows their shapes. Real triggers and synthetic
//! events go through the same functions, so they cannot drift apart.

pub mod http_event;
