//! The HTTP API in process, over a fake engine: messages, the OpenAPI description, the status
//! page's HTML and webhooks.

#[path = "../support"]
mod support {
    pub mod api;
}

mod api_messages;
mod api_openapi;
mod api_status_page;
mod api_webhook;
