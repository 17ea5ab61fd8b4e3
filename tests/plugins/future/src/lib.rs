//! A component built against `weft:host@0.3.0`, a minor this host does
//! not bind: the host must refuse it at load and say which versions it
//! accepts. Built only for that test.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs, unreachable_pub)] // generated bindings
mod component {
    wit_bindgen::generate!({ world: "later", path: "wit", generate_all });

    struct Future;

    impl Guest for Future {
        fn run() -> u32 {
            weft::host::events::emit("t", "k", "{}");
            1
        }
    }

    export!(Future);
}
