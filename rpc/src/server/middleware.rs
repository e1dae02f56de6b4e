//! The strict middleware: a call over its address's rate, an unknown method or
//! parameters of the wrong shape are answered before the method runs, and every call's
//! outcome is reported to an observer (the node's metrics).

use std::future::Future;
use std::sync::Arc;

use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObject, Request};
use jsonrpsee::MethodResponse;

use crate::error::INVALID_PARAMS;
use crate::methods;
use crate::server::limit::PerAddress;

/// How a call ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with a result.
    Ok,
    /// Answered with an error.
    Error,
    /// Refused before it ran (unknown method or bad parameter shape).
    Refused,
    /// Refused for going over its address's request rate.
    RateLimited,
}

/// Told of every call, connection and subscription (the node counts them).
pub trait Observer: Send + Sync + 'static {
    /// A call of `method` (a known method's name, or `"unknown"`) ended with `outcome`.
    fn call(&self, method: &str, outcome: Outcome);
    /// A connection opened (`true`) or closed.
    fn connection(&self, _open: bool) {}
    /// A subscription started (`true`) or ended.
    fn subscription(&self, _open: bool) {}
}

/// Lives as long as one connection's middleware: tells the observer when it closes.
struct ConnectionGuard(Arc<dyn Observer>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connection(false);
    }
}

/// Takes each call from its address's rate and checks its method and parameter shape
/// against [`methods::METHODS`].
#[derive(Clone)]
pub struct Strict<S> {
    service: S,
    observer: Option<Arc<dyn Observer>>,
    limits: Option<Arc<PerAddress>>,
    _connection: Option<Arc<ConnectionGuard>>,
}

impl<S> Strict<S> {
    /// Built once per connection by the server.
    pub(crate) fn new(
        service: S,
        observer: Option<Arc<dyn Observer>>,
        limits: Option<Arc<PerAddress>>,
    ) -> Self {
        let connection = observer.clone().map(|o| {
            o.connection(true);
            Arc::new(ConnectionGuard(o))
        });
        Self {
            service,
            observer,
            limits,
            _connection: connection,
        }
    }
}

/// The known name of a method (for metric labels: never a caller's free text).
fn label(method: &str) -> &'static str {
    methods::find(method).map_or("unknown", |m| m.name)
}

/// Why the call's shape is refused, if it is.
fn refusal(method: &str, params: Option<&str>) -> Option<String> {
    // Unknown methods are left to the server, which answers -32601.
    let spec = methods::find(method)?;
    methods::check_params(spec, params)
}

/// The generated code answers a parameter that does not decode with the bare message
/// "Invalid params" and the reason in `data`; this names the method, the reason and
/// what the method takes, in the message. `None` for errors that say more already.
fn explain(method: &str, response: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(response).ok()?;
    let error = value.get("error")?;
    if error.get("message")?.as_str()? != "Invalid params" {
        return None;
    }
    let reason = error
        .get("data")
        .and_then(|d| d.as_str())
        .unwrap_or("a parameter does not decode");
    let expected = methods::find(method).map_or_else(String::new, |m| {
        let params: Vec<String> = m
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.about))
            .collect();
        format!(" (expected {})", params.join("; "))
    });
    Some(format!("{method}: invalid parameter: {reason}{expected}"))
}

impl<S> RpcServiceT for Strict<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let observer = self.observer.clone();
        let limited = self
            .limits
            .as_ref()
            .and_then(|l| l.check_extensions(request.extensions()).err());
        async move {
            let method = label(request.method_name());
            if let Some(limited) = limited {
                if let Some(observer) = &observer {
                    observer.call(method, Outcome::RateLimited);
                }
                return MethodResponse::error(request.id, limited.error());
            }
            let params = request.params.as_ref().map(|p| p.get());
            if let Some(message) = refusal(request.method_name(), params) {
                if let Some(observer) = &observer {
                    observer.call(method, Outcome::Refused);
                }
                return MethodResponse::error(
                    request.id,
                    ErrorObject::owned(INVALID_PARAMS, message, None::<()>),
                );
            }
            let id = request.id.clone().into_owned();
            let name = request.method_name().to_owned();
            let mut response = service.call(request).await;
            if response.as_error_code() == Some(jsonrpsee::types::error::INTERNAL_ERROR_CODE)
                && name.contains("_subscribe")
            {
                // jsonrpsee answers a subscription over plain HTTP with a bare
                // "Internal error"; say what to do instead.
                response = MethodResponse::error(
                    id,
                    ErrorObject::owned(
                        INVALID_PARAMS,
                        format!(
                            "{name} needs a WebSocket connection (ws://); over HTTP, read with \
                             gov_getEvents or chain_getBlock"
                        ),
                        None::<()>,
                    ),
                );
            } else if response.as_error_code() == Some(INVALID_PARAMS) {
                if let Some(message) = explain(&name, response.as_json().get()) {
                    response = MethodResponse::error(
                        id,
                        ErrorObject::owned(INVALID_PARAMS, message, None::<()>),
                    );
                }
            }
            if let Some(observer) = &observer {
                let outcome = if response.is_success() {
                    Outcome::Ok
                } else {
                    Outcome::Error
                };
                observer.call(method, outcome);
            }
            response
        }
    }

    fn batch<'a>(
        &self,
        mut batch: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // Each call of a batch counts against the rate, as if sent alone; a call over
        // it is answered with the rate error and the rest of the batch runs.
        for entry in batch.iter_mut() {
            let refused = match &*entry {
                Ok(BatchEntry::Call(request)) => {
                    let limited = self
                        .limits
                        .as_ref()
                        .and_then(|l| l.check_extensions(request.extensions()).err());
                    if let Some(limited) = limited {
                        if let Some(observer) = &self.observer {
                            observer.call(label(request.method_name()), Outcome::RateLimited);
                        }
                        Some((request.id.clone(), limited.error()))
                    } else {
                        let params = request.params.as_ref().map(|p| p.get());
                        refusal(request.method_name(), params).map(|m| {
                            (
                                request.id.clone(),
                                ErrorObject::owned(INVALID_PARAMS, m, None::<()>),
                            )
                        })
                    }
                }
                _ => None,
            };
            if let Some((id, error)) = refused {
                *entry = Err(BatchEntryErr::new(id, error));
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        // A notification has no answer to carry the rate error: one over the rate is
        // dropped.
        let limited = self
            .limits
            .as_ref()
            .is_some_and(|l| l.check_extensions(notification.extensions()).is_err());
        let service = self.service.clone();
        async move {
            if limited {
                MethodResponse::notification()
            } else {
                service.notification(notification).await
            }
        }
    }
}
