//! Host bindings for each supported version of the connector contract, and
//! the conversions between each version's generated types and the plain
//! types of [`crate::contract`].
//!
//! Each published contract version in `wit/vX.Y.Z/` gets a module here.
//! The rest of the host works only with [`crate::contract`]'s types; values
//! are converted at the call boundary, so the sync engine never sees more
//! than one shape and nothing outside the runtime depends on wasmtime's
//! generated code. See `wit/README.md` for the versioning policy.

use crate::contract as c;
pub use crate::contract::{CONTRACT_PACKAGE, PLUGIN_INTERFACE, SUPPORTED_CONTRACTS};

/// Bindings for `atsbridge:connector@0.1.0`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
    });
}

/// The `http` import's types (the newest contract's), used only by the
/// runtime's HTTP import.
pub use v0_2::atsbridge::connector::http::{
    Auth, BasicAuth, ClientCredentials, Credential, HeaderAuth, HttpError, Method, Request as HttpRequest,
    Response as HttpResponse,
};
/// The `log` import's level (the newest contract's).
pub use v0_2::atsbridge::connector::log::Level as LogLevel;

use v0_1::atsbridge::connector::types as w;

/// A value converted between a contract type and a binding type, in either
/// direction. Implemented field by field, so adding a field to one side
/// without the other does not compile.
pub trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
same!(String, bool, u8, u16, u32, u64, (String, String));

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

/// Records: the same fields on both sides.
macro_rules! record {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl Convert<c::$name> for w::$name {
            fn convert(self) -> c::$name {
                c::$name { $($field: self.$field.convert()),* }
            }
        }
        impl Convert<w::$name> for c::$name {
            fn convert(self) -> w::$name {
                w::$name { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

/// Enums and variants: the same cases on both sides, each either without a
/// payload or with one.
macro_rules! variant {
    ($($name:ident { $($unit:ident),* ; $($case:ident),* $(,)? })*) => {$(
        impl Convert<c::$name> for w::$name {
            fn convert(self) -> c::$name {
                match self {
                    $(w::$name::$unit => c::$name::$unit,)*
                    $(w::$name::$case(x) => c::$name::$case(x.convert()),)*
                }
            }
        }
        impl Convert<w::$name> for c::$name {
            fn convert(self) -> w::$name {
                match self {
                    $(c::$name::$unit => w::$name::$unit,)*
                    $(c::$name::$case(x) => w::$name::$case(x.convert()),)*
                }
            }
        }
    )*};
}

// Each newer version's module uses the macros above, so it is declared
// after them.
pub mod v0_2;

/// 0.1.0's `http` and `log` values as 0.2.0's, which the runtime's imports
/// take (`c` is 0.2.0 here, `w` 0.1.0). 0.2.0 only added the header value
/// template, which a 0.1.0 request never has.
mod v0_1_imports {
    mod types {
        use super::super::Convert;
        use super::super::v0_1::atsbridge::connector::types as w;
        use super::super::v0_2::atsbridge::connector::types as c;

        record! {
            SecretRef { key }
        }
    }

    mod http {
        use super::super::Convert;
        use super::super::v0_1::atsbridge::connector::http as w;
        use super::super::v0_2::atsbridge::connector::http as c;

        record! {
            BasicAuth { username, password }
            ClientCredentials { token_url, client_id, client_secret, scope, extra_params }
            Response { status, headers, body }
        }

        variant! {
            Method { Get, Head, Post, Put, Patch, Delete ; }
            Credential { ; Plain, Secret }
            HttpError { Timeout ; Denied, InvalidRequest, TooLarge, Transport, UnknownSecret, AuthFailed }
        }

        // Requests only flow from the plugin to the host: one direction.
        impl Convert<c::Request> for w::Request {
            fn convert(self) -> c::Request {
                let w::Request { method, url, headers, body, auth, timeout_ms } = self;
                c::Request { method: method.convert(), url, headers, body, auth: auth.convert(), timeout_ms }
            }
        }

        impl Convert<c::Auth> for w::Auth {
            fn convert(self) -> c::Auth {
                match self {
                    w::Auth::Basic(b) => c::Auth::Basic(b.convert()),
                    w::Auth::Bearer(v) => c::Auth::Bearer(v.convert()),
                    w::Auth::Header(w::HeaderAuth { name, value }) => {
                        c::Auth::Header(c::HeaderAuth { name, value: value.convert(), value_template: None })
                    }
                    w::Auth::ClientCredentials(cc) => c::Auth::ClientCredentials(cc.convert()),
                }
            }
        }
    }

    mod log {
        use super::super::Convert;
        use super::super::v0_1::atsbridge::connector::log as w;
        use super::super::v0_2::atsbridge::connector::log as c;

        variant! {
            Level { Trace, Debug, Info, Warn, Error ; }
        }
    }
}

record! {
    SettingSpec { key, label, kind, required, help, choices, default_value }
    SecretRef { key }
    Setting { key, value }
    AtsUser { ats_id, name, email }
    Field { key, value }
    Job { code, status, raw_status, title, locations, description, assigned_users, updated_at, extra }
    JobPage { jobs, next_cursor }
    Stage { id, name, position, job_code }
    Attachment { file_name, content_type, content }
    Answer { question, answer }
    PushRequest { job_code, candidate, stage_id, idempotency_key }
    CandidateRef { candidate_id, application_id }
    Pushed { ref_, existing }
    CandidateStatus { ref_, state, stage_id, stage_name, updated_at }
    RateLimit { retry_after_ms, message }
}

variant! {
    SettingKind { Text, Secret, Url, Choice ; }
    SettingValue { ; Text, Secret }
    JobStatus { Open, Closed, Draft, OnHold ; Other }
    ApplicationState { Active, Rejected, Hired, Withdrawn ; Other }
    ConnectorError { ; InvalidConfig, Unauthorized, RateLimited, NotFound, Transient, Permanent, Unsupported }
}

// What 0.2.0 added to types that 0.1.0 also has: converted by hand. A
// 0.1.0 connector cannot declare the newer capabilities, and never sees
// a résumé URL.

impl Convert<c::Capability> for w::Capability {
    fn convert(self) -> c::Capability {
        match self {
            w::Capability::Stages => c::Capability::Stages,
            w::Capability::CandidatePush => c::Capability::CandidatePush,
            w::Capability::CandidateStatus => c::Capability::CandidateStatus,
            w::Capability::Webhooks => c::Capability::Webhooks,
        }
    }
}

impl Convert<c::ConnectorInfo> for w::ConnectorInfo {
    fn convert(self) -> c::ConnectorInfo {
        let w::ConnectorInfo { name, version, vendor, capabilities, config_schema } = self;
        c::ConnectorInfo {
            name,
            version,
            vendor,
            capabilities: capabilities.convert(),
            config_schema: config_schema.convert(),
        }
    }
}

impl Convert<c::Candidate> for w::Candidate {
    fn convert(self) -> c::Candidate {
        let w::Candidate { first_name, last_name, email, phone, resume, source, links, answers } = self;
        c::Candidate {
            first_name,
            last_name,
            email,
            phone,
            resume: resume.convert(),
            resume_url: None,
            source,
            links,
            answers: answers.convert(),
        }
    }
}

impl Convert<w::Candidate> for c::Candidate {
    fn convert(self) -> w::Candidate {
        let c::Candidate { first_name, last_name, email, phone, resume, resume_url: _, source, links, answers } = self;
        w::Candidate {
            first_name,
            last_name,
            email,
            phone,
            resume: resume.convert(),
            source,
            links,
            answers: answers.convert(),
        }
    }
}

impl<T: Convert<U>, U, E: Convert<F>, F> Convert<Result<U, F>> for Result<T, E> {
    fn convert(self) -> Result<U, F> {
        match self {
            Ok(v) => Ok(v.convert()),
            Err(e) => Err(e.convert()),
        }
    }
}

same!(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_page_round_trips() {
        let page = c::JobPage {
            jobs: vec![c::Job {
                code: "J1".into(),
                status: c::JobStatus::Other("paused".into()),
                raw_status: "paused".into(),
                title: "T".into(),
                locations: vec!["Berlin".into()],
                description: "<p>x</p>".into(),
                assigned_users: vec![c::AtsUser { ats_id: "u".into(), name: "U".into(), email: None }],
                updated_at: Some("2026-01-01T00:00:00Z".into()),
                extra: vec![c::Field { key: "k".into(), value: "v".into() }],
            }],
            next_cursor: Some("2".into()),
        };
        let wit: w::JobPage = page.clone().convert();
        let back: c::JobPage = wit.convert();
        assert_eq!(back, page);
    }
}
