//! A well-formed WebAssembly component that is not an atsbridge connector.
//!
//! It targets its own world, `other:thing/greeter@1.0.0`, which exports a
//! single `hello` function and nothing of `atsbridge:connector`. The host's
//! loader must refuse it with a clear "wrong world" error instead of failing
//! at the first call. It deliberately does not use the SDK.

wit_bindgen::generate!({ path: "wit", world: "greeter" });

struct Greeter;

impl Guest for Greeter {
    fn hello() -> String {
        "hello from a component that is not a connector".to_string()
    }
}

export!(Greeter);
