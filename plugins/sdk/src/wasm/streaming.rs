//! The session half of the `streaming-plugin` world: a [`StreamEngine`]'s
//! sessions as the `weft:engine/stream` resource. Bound separately from the
//! engine export (world `stream-exports`) so that the two sets of generated
//! export macros do not collide; it shares the host imports and the engine
//! types with the `plugin` binding.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::wasm::bindings::weft::engine::types::NamedColumn;
use crate::wasm::{WasmHost, WitError, from_wit_chunk, to_wit_chunk, to_wit_error};
use crate::{Message, Params, Session, StreamEngine, Table};

#[allow(missing_docs, unreachable_pub, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "weft:engine/stream-exports",
        path: "../../wit/engine",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::wasm::streaming::bindings",
        with: {
            "weft:host/events@0.2.4": crate::wasm::bindings::weft::host::events,
            "weft:host/log@0.2.4": crate::wasm::bindings::weft::host::log,
            "weft:host/storage@0.2.4": crate::wasm::bindings::weft::host::storage,
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

impl<E: StreamEngine + 'static> SessionCell<E> {
    fn wrap(session: E::Session) -> wit::Session {
        wit::Session::new(Self {
            session: RefCell::new(session),
            engine: PhantomData,
        })
    }
}

fn object_or_empty(text: &str) -> &str {
    if text.trim().is_empty() { "{}" } else { text }
}

impl<E: StreamEngine + 'static> wit::GuestSession for SessionCell<E> {
    fn open(config: String) -> Result<wit::Session, WitError> {
        E::open(Params::new(&config), &WasmHost)
            .map(Self::wrap)
            .map_err(to_wit_error)
    }

    fn restore(config: String, snapshot: Vec<u8>) -> Result<wit::Session, WitError> {
        E::restore(Params::new(&config), &snapshot, &WasmHost)
            .map(Self::wrap)
            .map_err(to_wit_error)
    }

    fn push(&self, input: wit::PushInput) -> Result<wit::PushOutput, WitError> {
        let columns = input
            .rows
            .into_iter()
            .map(|c| (c.name, from_wit_chunk(c.chunk)))
            .collect();
        let message = Message {
            message_type: &input.message_type,
            params: Params::new(object_or_empty(&input.params)),
            rows: Table::new(columns).map_err(to_wit_error)?,
        };
        let reply = self
            .session
            .borrow_mut()
            .push(message, &WasmHost)
            .map_err(to_wit_error)?;
        Ok(wit::PushOutput {
            columns: reply
                .columns
                .into_iter()
                .map(|(name, chunk)| NamedColumn {
                    name,
                    chunk: to_wit_chunk(chunk),
                })
                .collect(),
            reply: if reply.reply.is_null() {
                "{}".into()
            } else {
                reply.reply.to_string()
            },
        })
    }

    fn request(&self, message_type: String, params: String) -> Result<String, WitError> {
        self.session
            .borrow_mut()
            .request(
                &message_type,
                Params::new(object_or_empty(&params)),
                &WasmHost,
            )
            .map(|answer| answer.to_string())
            .map_err(to_wit_error)
    }

    fn stats(&self) -> String {
        self.session.borrow().stats().to_string()
    }

    fn snapshot(&self) -> Result<Vec<u8>, WitError> {
        self.session.borrow().snapshot().map_err(to_wit_error)
    }
}
