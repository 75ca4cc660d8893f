//! Integration tests: real HTTP against each mock with `reqwest`.

mod ashby;
mod bamboohr;
mod common;
mod faults;
mod greenhouse;
mod lever;
mod scale;
mod smartrecruiters;
mod workable;
