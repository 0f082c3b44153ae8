//! `GET /openapi.json`: the OpenAPI 3.0 description, written by hand.
//!
//! [`ROUTES`] lists every route the router serves; a test checks that each one is described
//! here with its method, so the two cannot drift apart silently. The request body's schema
//! says what the parser in [`super::request`] accepts, patterns included: `.ci/api-fuzz`
//! generates requests from it, and `tests/api/api_openapi.rs` checks the two agree.

use super::request::{FIELDS, MAX_IDEMPOTENCY_KEY, MAX_VALIDITY_SECS};
use crate::config::MAX_CREDITS;
use axum::Json;
use serde_json::{json, Value};

/// Every route, as (method, OpenAPI path).
pub const ROUTES: [(&str, &str); 14] = [
    ("post", "/v1/messages"),
    ("post", "/v1/messages/batch"),
    ("get", "/v1/messages/{id}"),
    ("get", "/v1/channels"),
    ("get", "/v1/cluster"),
    ("get", "/v1/smpp-users"),
    ("post", "/v1/smpp-users/{name}/credits"),
    ("get", "/v1/smpp-sessions"),
    ("delete", "/v1/smpp-sessions/{id}"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/"),
    ("get", "/status"),
];

/// A destination (and a numeric source): 1-20 digits, optionally after a `+`.
const NUMBER_PATTERN: &str = r"^\+?[0-9]{1,20}$";

/// A source: a number, or an alphanumeric sender id of 1-11 characters.
const SENDER_PATTERN: &str = r"^(\+?[0-9]{1,20}|[A-Za-z0-9 ._-]{1,11})$";

/// `binary`: canonical base64 (standard alphabet, padded, no stray bits in the last
/// character) of at least one octet, as the request parser decodes it.
const BASE64_PATTERN: &str = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$";

/// An idempotency key: 1-255 printable ASCII characters, no spaces.
fn idempotency_key_pattern() -> String {
    format!("^[!-~]{{1,{MAX_IDEMPOTENCY_KEY}}}$")
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The status page: served to anyone (it holds no data; its script asks for the token).
fn status_page(operation_id: &str, summary: &str, forbidden: &Value, misdirected: &Value) -> Value {
    json!({"get": {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            "200": {"description": "A self-contained HTML page (inline script and style, no other assets) that reads GET /v1/channels every few seconds, asking for the bearer token when one is configured.",
                "content": {"text/html": {"schema": {"type": "string"}}}},
            "403": forbidden,
            "421": misdirected
        }
    }})
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

/// `response` with a link to the message it accepted: clients (and API fuzzers) can follow
/// the id to `GET /v1/messages/{id}`.
fn follow(mut response: Value) -> Value {
    response["links"] = json!({"getMessage": {
        "operationId": "getMessage",
        "parameters": {"id": "$response.body#/id"},
        "description": "The accepted message's state."
    }});
    response
}

fn schemas() -> Value {
    let nullable_string = json!({"type": "string", "nullable": true});
    let mut all = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "What is wrong, precisely enough to fix it."},
                "field": {"type": "string", "description": "The request field at fault, e.g. `to` or `messages[3].text`."}
            }
        },
        "MessageRequest": {
            "type": "object",
            "additionalProperties": false,
            "required": ["to"],
            "description": "Exactly one of `text` and `binary` is required; `encoding` goes with `text` only.",
            "oneOf": [
                {"required": ["text"], "properties": {"binary": {"not": {}}}},
                {"required": ["binary"], "properties": {"text": {"not": {}}, "encoding": {"not": {}}}}
            ],
            "properties": {
                "to": {"type": "string", "pattern": NUMBER_PATTERN, "description": "Destination number."},
                "from": {"type": "string", "pattern": SENDER_PATTERN, "description": "Source: 1-20 digits with optional +, or an alphanumeric sender id of 1-11 letters, digits, spaces, '.', '-' or '_'. Default: the channel's default-reply-address."},
                "text": {"type": "string", "minLength": 1, "description": "Text to send; encoded and split into segments as the channel is configured. Too many segments for the channel, or a character the forced `encoding` lacks, is a 400."},
                "binary": {"type": "string", "format": "byte", "pattern": BASE64_PATTERN, "description": "Base64 octets (standard alphabet, padded, at least one octet), sent as 8-bit data (data_coding 4)."},
                "channel": {"type": "string", "description": "Send through this channel only. Default: the router's choice."},
                "encoding": {"type": "string", "enum": ["auto", "gsm7", "ascii", "latin1", "ucs2"], "description": "Force a text coding; a character it cannot represent is a 400. Default: the channel's x-smpp-outbound-enc-default."},
                "delivery_report": {"type": "boolean", "description": "Ask for a delivery receipt. Default: the channel's x-smpp-delivery-report."},
                "validity": {"type": "integer", "minimum": 1, "maximum": MAX_VALIDITY_SECS, "description": "Validity period in seconds: the message is never sent after it (state expired) and the SMSC gets what remains of it. Default: the channel's x-smpp-validity-period, else [store] default-validity."},
                "idempotency_key": {"type": "string", "pattern": idempotency_key_pattern(), "description": "Batch items only (single messages use the Idempotency-Key header): a repeat answers the first result (status 200) and sends nothing again."}
            }
        },
        "Accepted": {
            "type": "object",
            "required": ["id", "segments", "channel", "encoding", "data_coding"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "segments": {"type": "integer", "minimum": 1, "description": "submit_sm PDUs the message needs."},
                "channel": {"type": "string"},
                "encoding": {"type": "string", "enum": ["gsm7", "ascii", "latin1", "ucs2", "binary"]},
                "data_coding": {"type": "integer"}
            }
        },
        "BatchRequest": {
            "type": "object",
            "additionalProperties": false,
            "required": ["messages"],
            "properties": {
                "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/MessageRequest"}}
            }
        },
        "BatchItemResult": {
            "type": "object",
            "required": ["index", "status"],
            "description": "Either the fields of Accepted (status 202) or of Error (status 400 or 503).",
            "properties": {
                "index": {"type": "integer"},
                "status": {"type": "integer", "enum": [200, 202, 400, 422, 503]},
                "id": {"type": "string"},
                "segments": {"type": "integer"},
                "channel": {"type": "string"},
                "encoding": {"type": "string"},
                "data_coding": {"type": "integer"},
                "error": {"type": "string"},
                "field": {"type": "string", "nullable": true}
            }
        },
        "BatchResult": {
            "type": "object",
            "required": ["accepted", "rejected", "results"],
            "properties": {
                "accepted": {"type": "integer"},
                "rejected": {"type": "integer"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/BatchItemResult"}}
            }
        },
        "Message": {
            "type": "object",
            "required": ["id", "state", "channel", "to", "from", "delivery_report", "segments", "failure", "timestamps", "expires_at"],
            "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "submitted", "delivered", "failed", "expired"]},
                "channel": {"type": "string"},
                "to": {"type": "string"},
                "from": nullable_string,
                "delivery_report": {"type": "boolean"},
                "segments": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "smsc_message_id": nullable_string,
                        "receipt": {"type": "string", "nullable": true, "description": "enroute, delivered, expired, deleted, undeliverable, accepted, unknown, rejected, or the SMSC's own word."},
                        "receipt_error": nullable_string
                    }
                }},
                "failure": {"type": "object", "nullable": true, "properties": {
                    "status": {"type": "integer", "nullable": true, "description": "SMPP command_status of the error response; null when there was none (timeout, lost link, receipt)."},
                    "status_hex": nullable_string,
                    "reason": {"type": "string"}
                }},
                "expires_at": {"type": "string", "format": "date-time", "description": "When the message's validity ends: it is never sent after that."},
                "timestamps": {
                    "type": "object",
                    "description": "When each state was entered (RFC 3339, UTC).",
                    "properties": {
                        "queued": {"type": "string", "format": "date-time"},
                        "submitted": {"type": "string", "format": "date-time"},
                        "delivered": {"type": "string", "format": "date-time"},
                        "failed": {"type": "string", "format": "date-time"},
                        "expired": {"type": "string", "format": "date-time"}
                    }
                }
            }
        },
        "ChannelError": {
            "type": "object",
            "nullable": true,
            "properties": {"code": {"type": "integer"}, "reason": {"type": "string"}}
        },
        "Channel": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "state": {"type": "string"},
                "bound": {"type": "boolean"},
                "can_transmit": {"type": "boolean"},
                "can_receive": {"type": "boolean"},
                "last_error": {"$ref": "#/components/schemas/ChannelError"},
                "counters": {"type": "object", "properties": {
                    "submitted": {"type": "integer"},
                    "acknowledged": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "resent": {"type": "integer"},
                    "received": {"type": "integer"},
                    "receipts": {"type": "integer"}
                }},
                "window": {"type": "object", "properties": {
                    "in_use": {"type": "integer"},
                    "size": {"type": "integer"}
                }},
                "queue": {"$ref": "#/components/schemas/Queue"},
                "seconds_since_bind": {"type": "integer", "nullable": true, "minimum": 0, "description": "Seconds since the last successful bind, bound now or not; null before the first."},
                "certificates": {"type": "array", "items": {"$ref": "#/components/schemas/Certificate"}}
            }
        },
        "Queue": {
            "type": "object",
            "description": "Messages waiting in the store (those in flight on a channel included).",
            "properties": {
                "depth": {"type": "integer", "minimum": 0},
                "oldest_age_seconds": {"type": "integer", "nullable": true, "minimum": 0, "description": "Seconds since the oldest was accepted; null when the queue is empty."}
            }
        },
        "Certificate": {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": ["own", "ca", "peer"], "description": "own: presented in mutual TLS; ca: trusted (the keystore's CA certificates); peer: the SMSC's, as seen at the last successful handshake."},
                "subject": {"type": "string"},
                "not_after": {"type": "string", "format": "date-time"},
                "seconds_left": {"type": "integer", "description": "Seconds until not_after; negative once expired."}
            }
        },
        "Cluster": {
            "type": "object",
            "required": ["node", "backend", "lease_seconds", "nodes", "slots"],
            "properties": {
                "node": {"type": "string", "description": "This node's name."},
                "backend": {"type": "string", "enum": ["sqlite", "postgres"]},
                "lease_seconds": {"type": "integer", "nullable": true, "description": "[store] lease-seconds (PostgreSQL); null on SQLite."},
                "nodes": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "heartbeat", "alive"],
                    "properties": {
                        "name": {"type": "string"},
                        "heartbeat": {"type": "string", "format": "date-time", "description": "The last heartbeat, on the database's clock."},
                        "alive": {"type": "boolean", "description": "Whether the heartbeat is younger than one lease."}
                    }
                }},
                "slots": {"type": "array", "items": {
                    "type": "object",
                    "required": ["channel", "slot", "node", "epoch", "expires"],
                    "properties": {
                        "channel": {"type": "string"},
                        "slot": {"type": "integer", "minimum": 0, "maximum": 63},
                        "node": {"type": "string", "nullable": true, "description": "The holder; null when nobody holds the slot."},
                        "epoch": {"type": "integer", "minimum": 0, "description": "The fencing epoch (0 on SQLite)."},
                        "expires": {"type": "string", "nullable": true, "format": "date-time", "description": "When the hold expires; null on SQLite or when nobody holds it."}
                    }
                }}
            }
        },
        "ChannelList": {
            "type": "object",
            "properties": {
                "channels": {"type": "array", "items": {"$ref": "#/components/schemas/Channel"}},
                "any_channel_queue": {"$ref": "#/components/schemas/Queue"},
                "webhook": {"type": "object", "description": "The webhook outbox (backlog 0 without a webhook).", "properties": {
                    "backlog": {"type": "integer", "minimum": 0},
                    "oldest_event_age_seconds": {"type": "integer", "nullable": true, "minimum": 0, "description": "Seconds since the oldest waiting event was queued; null when there is none."}
                }}
            }
        },
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "reason": {"type": "string"},
                "bound": {"type": "array", "items": {"type": "string"}},
                "down": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "state": {"type": "string"},
                    "last_error": {"$ref": "#/components/schemas/ChannelError"}
                }}}
            }
        }
    });
    merge(&mut all, smpp_schemas());
    all
}

/// Adds the members of `more` to the object `into` (one `json!` of every schema would
/// exceed the macro's recursion limit).
fn merge(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}

/// The schemas of the SMPP server's routes.
fn smpp_schemas() -> Value {
    json!({
        "SmppUserList": {
            "type": "object",
            "required": ["users"],
            "properties": {
                "users": {"type": "array", "description": "Every [smpp-user-NAME], sorted by name; empty without [smpp-server].", "items": {
                    "type": "object",
                    "required": ["name", "system_id", "credits", "binds", "max_binds", "throughput", "channels", "counters"],
                    "properties": {
                        "name": {"type": "string", "description": "The section name without smpp-user-."},
                        "system_id": {"type": "string"},
                        "credits": {"type": "integer", "nullable": true, "minimum": 0, "description": "The balance in segments; null: unlimited (no credits configured)."},
                        "binds": {"type": "integer", "minimum": 0, "description": "Sessions bound now."},
                        "max_binds": {"type": "integer", "minimum": 1},
                        "throughput": {"type": "integer", "minimum": 1, "description": "The configured rate, segments per second."},
                        "channels": {"type": "array", "items": {"type": "string"}, "description": "In order of preference."},
                        "counters": {"type": "object", "required": ["accepted", "throttled", "no_credit", "refused", "delivered", "bind_refusals"], "properties": {
                            "accepted": {"type": "integer", "minimum": 0, "description": "Submits committed and answered with smppd's id."},
                            "throttled": {"type": "integer", "minimum": 0, "description": "Submits answered ESME_RTHROTTLED (over throughput)."},
                            "no_credit": {"type": "integer", "minimum": 0, "description": "Submits refused for want of credits."},
                            "refused": {"type": "integer", "minimum": 0, "description": "Other refused submits."},
                            "delivered": {"type": "integer", "minimum": 0, "description": "deliver_sm (receipts, inbound messages) the user acknowledged."},
                            "bind_refusals": {"type": "integer", "minimum": 0}
                        }}
                    }
                }}
            }
        },
        "CreditsRequest": {
            "type": "object",
            "additionalProperties": false,
            "required": ["add"],
            "properties": {
                "add": {"type": "integer", "minimum": 1, "maximum": MAX_CREDITS, "description": "Segments to add to the balance."}
            }
        },
        "Credits": {
            "type": "object",
            "required": ["name", "credits"],
            "properties": {
                "name": {"type": "string"},
                "credits": {"type": "integer", "minimum": 0, "description": "The new balance, committed."}
            }
        },
        "SmppSessionList": {
            "type": "object",
            "required": ["sessions"],
            "properties": {
                "sessions": {"type": "array", "description": "Every open connection of the SMPP server, oldest first; empty without [smpp-server].", "items": {
                    "type": "object",
                    "required": ["id", "user", "remote", "bind", "tls", "since", "counters"],
                    "properties": {
                        "id": {"type": "integer", "minimum": 1},
                        "user": {"type": "string", "nullable": true, "description": "The user bound as; null before the bind."},
                        "remote": {"type": "string", "description": "The client's ip:port."},
                        "bind": {"type": "string", "nullable": true, "enum": ["transmitter", "receiver", "transceiver"], "description": "null before the bind."},
                        "tls": {"type": "string", "nullable": true, "description": "TLSv1.2 or TLSv1.3; null over plain TCP."},
                        "since": {"type": "string", "format": "date-time", "description": "When the client connected."},
                        "counters": {"type": "object", "required": ["submitted", "refused", "delivered"], "properties": {
                            "submitted": {"type": "integer", "minimum": 0},
                            "refused": {"type": "integer", "minimum": 0},
                            "delivered": {"type": "integer", "minimum": 0}
                        }}
                    }
                }}
            }
        },
        "Unbinding": {
            "type": "object",
            "required": ["id", "unbinding"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "unbinding": {"type": "boolean", "enum": [true]}
            }
        }
    })
}

/// The SMPP server's routes.
fn smpp_paths(
    secured: &Value,
    unauthorized: &Value,
    forbidden: &Value,
    misdirected: &Value,
    not_json: &Value,
    timeout: &Value,
) -> Value {
    json!({
            "/v1/smpp-users": {"get": {
                "operationId": "getSmppUsers",
                "summary": "The SMPP server's users: balance, bound sessions, limits, channels and counters, sorted by name.",
                "security": secured,
                "responses": {
                    "200": json_response("The users (none without [smpp-server]).", "SmppUserList"),
                    "401": unauthorized,
                    "403": forbidden,
                    "421": misdirected,
                    "503": error_response("The store cannot be read (the balances).")
                }
            }},
            "/v1/smpp-users/{name}/credits": {"post": {
                "operationId": "postSmppUserCredits",
                "summary": "Add credits to an SMPP user's balance: answered once the new balance is committed.",
                "security": secured,
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "example": "acme", "description": "The user's name ([smpp-user-NAME])."}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreditsRequest"}}}},
                "responses": {
                    "200": json_response("The new balance.", "Credits"),
                    "400": error_response("The body is not {\"add\": N} with N from 1 to 10^12: the answer names the field."),
                    "401": unauthorized,
                    "403": forbidden,
                    "404": error_response("No such user (every name, without [smpp-server])."),
                    "408": timeout,
                    "409": error_response("The user has no credit limit (credits is not configured): there is no balance to add to."),
                    "413": error_response("The body is larger than max-body-bytes."),
                    "415": not_json,
                    "421": misdirected,
                    "503": error_response("The store cannot write.")
                }
            }},
            "/v1/smpp-sessions": {"get": {
                "operationId": "getSmppSessions",
                "summary": "The SMPP server's open connections: user, bind mode, TLS version, since when, counters.",
                "security": secured,
                "responses": {
                    "200": json_response("The connections (none without [smpp-server]).", "SmppSessionList"),
                    "401": unauthorized,
                    "403": forbidden,
                    "421": misdirected
                }
            }},
            "/v1/smpp-sessions/{id}": {"delete": {
                "operationId": "deleteSmppSession",
                "summary": "Unbind one connection: smppd sends unbind to the client, then closes it.",
                "security": secured,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": i64::MAX}, "description": "The id GET /v1/smpp-sessions gives."}],
                "responses": {
                    "202": json_response("The unbind is asked for; the connection closes once the client answers it.", "Unbinding"),
                    "400": error_response("Not a session id."),
                    "401": unauthorized,
                    "403": forbidden,
                    "404": error_response("No such open connection (every id, without [smpp-server])."),
                    "421": misdirected
                }
            }}
    })
}

/// The whole document.
pub fn document() -> Value {
    debug_assert_eq!(
        FIELDS.len(),
        9,
        "describe new request fields in MessageRequest"
    );
    let secured = json!([{"bearer": []}]);
    let unauthorized =
        error_response("Missing or wrong bearer token (only when one is configured).");
    let forbidden = error_response(
        "Sent by a web page (an Origin header) whose origin is not in [http] allowed-origins.",
    );
    let misdirected = error_response(
        "No bearer token is configured and the Host header names neither the listen address, localhost, 127.0.0.1, [::1] nor an entry of [http] allowed-hosts.",
    );
    let not_json = error_response("The body is not declared as Content-Type: application/json.");
    let timeout = error_response("The body did not arrive within 30 s.");
    let smpp = smpp_paths(
        &secured,
        &unauthorized,
        &forbidden,
        &misdirected,
        &not_json,
        &timeout,
    );
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "smppd HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Send SMS through smppd's SMPP channels, follow their delivery, watch the channels, and run the SMPP server's users and sessions."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        },
        "paths": {
            "/v1/messages": {"post": {
                "operationId": "postMessage",
                "summary": "Accept one message for sending: answered once it is committed to disk.",
                "security": secured,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "pattern": idempotency_key_pattern()}, "description": "A repeat with the same key and body answers the first result (200) and sends nothing again; the same key with another body is a 422."}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MessageRequest"}}}},
                "responses": {
                    "200": follow(json_response("A repeat of an Idempotency-Key: the first answer.", "Accepted")),
                    "202": follow(json_response("Accepted: committed to disk and queued.", "Accepted")),
                    "400": error_response("A field is wrong: the answer names it."),
                    "401": unauthorized,
                    "403": forbidden,
                    "408": timeout,
                    "413": error_response("The body is larger than max-body-bytes."),
                    "415": not_json,
                    "421": misdirected,
                    "422": error_response("The Idempotency-Key was used before with another request."),
                    "503": error_response("The queue is full ([store] max-queued), the store cannot write to disk, or no channel can ever send; the error says which.")
                }
            }},
            "/v1/messages/batch": {"post": {
                "operationId": "postBatch",
                "summary": "Accept up to 1000 messages; each is accepted or refused on its own.",
                "security": secured,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}}},
                "responses": {
                    "207": json_response("One result per message, in order.", "BatchResult"),
                    "400": error_response("The batch itself is malformed (not an object, no messages, more than 1000)."),
                    "401": unauthorized,
                    "403": forbidden,
                    "408": timeout,
                    "413": error_response("The body is larger than max-body-bytes."),
                    "415": not_json,
                    "421": misdirected,
                    "503": error_response("The store cannot write to disk: nothing of the batch was accepted.")
                }
            }},
            "/v1/messages/{id}": {"get": {
                "operationId": "getMessage",
                "summary": "A message's state, SMSC ids per segment and timestamps.",
                "security": secured,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}],
                "responses": {
                    "200": json_response("The message.", "Message"),
                    "400": error_response("Not a message id."),
                    "401": unauthorized,
                    "403": forbidden,
                    "404": error_response("Never accepted, or finished and aged out."),
                    "421": misdirected,
                    "503": error_response("The store cannot be read.")
                }
            }},
            "/v1/channels": {"get": {
                "operationId": "getChannels",
                "summary": "Every channel's state, last error, counters, queue, time since its last bind and certificates, in configured order; the webhook outbox.",
                "security": secured,
                "responses": {
                    "200": json_response("The channels.", "ChannelList"),
                    "401": unauthorized,
                    "403": forbidden,
                    "421": misdirected,
                    "503": error_response("The store cannot be read (the queues cannot be counted).")
                }
            }},
            "/v1/cluster": {"get": {
                "operationId": "getCluster",
                "summary": "The nodes sharing the store, their heartbeats, and which node holds which session slot of each channel until when.",
                "security": secured,
                "responses": {
                    "200": json_response("The cluster as this node sees it.", "Cluster"),
                    "401": unauthorized,
                    "403": forbidden,
                    "421": misdirected
                }
            }},
            "/health": {"get": {
                "operationId": "getHealth",
                "summary": "Whether at least one channel is bound.",
                "responses": {
                    "200": json_response("At least one channel is bound.", "Health"),
                    "403": forbidden,
                    "421": misdirected,
                    "503": json_response("No channel is bound; the body says why.", "Health")
                }
            }},
            "/metrics": {"get": {
                "operationId": "getMetrics",
                "summary": "Prometheus metrics (text exposition format 0.0.4).",
                "security": secured,
                "responses": {
                    "200": {"description": "The metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "401": unauthorized,
                    "403": forbidden,
                    "421": misdirected
                }
            }},
            "/openapi.json": {"get": {
                "operationId": "getOpenApi",
                "summary": "This document.",
                "responses": {
                    "200": {"description": "OpenAPI 3.0 document.", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "403": forbidden,
                    "421": misdirected
                }
            }},
            "/": status_page("getStatusPage", "The status page: channels, webhook backlog, certificate expiry.", &forbidden, &misdirected),
            "/status": status_page("getStatusPageAlias", "The status page, as at /.", &forbidden, &misdirected)
        }
    });
    merge(&mut doc["paths"], smpp);
    doc
}

/// `GET /openapi.json`.
pub(super) async fn get_openapi() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_and_every_ref_resolves() {
        let doc = document();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not described"
            );
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(described, ROUTES.len(), "a described route is not served");
        let text = doc.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "dangling $ref {name}"
            );
        }
        let operations: Vec<&str> = ROUTES
            .iter()
            .filter_map(|(method, path)| doc["paths"][path][method]["operationId"].as_str())
            .collect();
        assert_eq!(operations.len(), ROUTES.len(), "an operation has no id");
        for piece in text.split("\"operationId\":\"").skip(1) {
            let id = piece.split('"').next().unwrap();
            assert!(operations.contains(&id), "link to unknown operation {id}");
        }
        let props = doc["components"]["schemas"]["MessageRequest"]["properties"]
            .as_object()
            .unwrap();
        for field in FIELDS {
            assert!(
                props.contains_key(field),
                "request field {field} undocumented"
            );
        }
    }
}
