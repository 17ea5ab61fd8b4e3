//! A component built against `weft:host/secrets`, an interface no
//! host version has: the host must refuse it at load, naming it.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs, unreachable_pub)] // generated bindings
mod component {
    wit_bindgen::generate!({ world: "alien", path: "wit", generate_all });

    struct Alien;

    impl Guest for Alien {
        fn run() -> u32 {
            let _ = weft::host::secrets::get("key");
            1
        }
    }

    export!(Alien);
}
