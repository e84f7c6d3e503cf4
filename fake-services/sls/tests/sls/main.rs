//! The Log Service's integration tests, one binary: black-box router tests on 127.0.0.1:0
//! ([`http`]) and property tests of everything that reads client input ([`fuzz`]).

mod commit_order;
mod fuzz;
mod http;
