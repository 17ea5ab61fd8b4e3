//! The session half of the `streaming-plugin` world: a [`StreamEngine`]'s
//! sessions as the `weft:engine/stream` resource. Bound separately from the
//! engine export (world `stream-exports`) so that the two sets of generated
//! export macros do not collide; it shares the host imports and the engine
//! types with the `plugin` binding.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::wasm::{WasmHost, WitError, to_wit_error};
use crate::{Params, Rows, Session, StreamEngine};

#[allow(missing_docs, unreachable_pub, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "weft:engine/stream-exports",
        path: "../../wit/engine",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::wasm::streaming::bindings",
        with: {
            "weft:host/events@0.2.0": crate::wasm::bindings::weft::host::events,
            "weft:host/log@0.2.0": crate::wasm::bindings::weft::host::log,
            "weft:host/storage@0.2.0": crate::wasm::bindings::weft::host::storage,
            "weft:engine/types@0.2.0": crate::wasm::bindings::weft::engine::types,
        },
        generate_all,
    });
}

use bindings::exports::weft::engine::stream as wit;

pub use wit::Guest as StreamGuest;

/// A session of engine `E` behind the resource handle. The component model
/// hands methods `&self`; one instance is never re-entered, so a `RefCell`
/// is enough.
pub struct SessionCell<E: StreamEngine> {
    session: RefCell<E::Session>,
    engine: PhantomData<E>,
}

impl<E: StreamEngine + 'static> wit::GuestSession for SessionCell<E> {
    fn open(config: String) -> Result<wit::Session, WitError> {
        let session = E::open(Params::new(&config), &WasmHost).map_err(to_wit_error)?;
        Ok(wit::Session::new(Self {
            session: RefCell::new(session),
            engine: PhantomData,
        }))
    }

    fn push(&self, rows: wit::Batch) -> Result<wit::Scored, WitError> {
        let width = usize::try_from(rows.width).unwrap_or(usize::MAX);
        let batch = Rows::new(&rows.values, width).map_err(to_wit_error)?;
        let options = if rows.options.trim().is_empty() {
            "{}"
        } else {
            rows.options.as_str()
        };
        let scored = self
            .session
            .borrow_mut()
            .push(batch, Params::new(options), &WasmHost)
            .map_err(to_wit_error)?;
        Ok(wit::Scored {
            scores: scored.scores,
            confidences: scored.confidences,
            verdicts: scored.verdicts,
            fitted: scored.fitted,
            model: scored.model,
            notes: scored.notes.to_string(),
        })
    }

    fn request(&self, kind: String, params: String) -> Result<String, WitError> {
        self.session
            .borrow_mut()
            .request(&kind, Params::new(&params), &WasmHost)
            .map(|answer| answer.to_string())
            .map_err(to_wit_error)
    }

    fn stats(&self) -> String {
        self.session.borrow().stats().to_string()
    }
}
