//! A bus subscription as a stream of typed GraphQL items: what the
//! host's own typed subscriptions (storage) are built on.

use std::sync::Arc;

use async_graphql::Context;
use futures::Stream;
use weft_bus::{Delivery, Event};

use super::{bus_error, lagged_error, state};

/// Bus events on `topics` mapped by `map` (events it returns `None` for
/// are skipped); ends after an item `last` accepts, or with a `lagged`
/// error carrying `resumeFrom`.
pub(super) fn typed<T, M, L>(
    ctx: &Context<'_>,
    topics: Vec<String>,
    resume_from: Option<String>,
    map: M,
    last: L,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<T>> + use<T, M, L>>
where
    T: Send + 'static,
    M: Fn(&Event) -> Option<T> + Send + Sync + 'static,
    L: Fn(&T) -> bool + Send + Sync + 'static,
{
    let state = state(ctx);
    let subscription = state
        .bus
        .subscribe(
            &topics,
            super::caller(ctx)?.event_tenant(),
            resume_from.as_deref(),
        )
        .map_err(bus_error)?;
    let mapping = Arc::new((map, last));
    Ok(futures::stream::unfold(
        Some(subscription),
        move |subscription| {
            let mapping = mapping.clone();
            async move {
                let mut subscription = subscription?;
                loop {
                    match subscription.next().await? {
                        Delivery::Event(event) => {
                            if let Some(item) = (mapping.0)(&event) {
                                let next = if (mapping.1)(&item) {
                                    None
                                } else {
                                    Some(subscription)
                                };
                                return Some((Ok(item), next));
                            }
                        }
                        Delivery::Lagged(token) => {
                            return Some((Err(lagged_error(&token.to_string())), None));
                        }
                    }
                }
            }
        },
    ))
}
