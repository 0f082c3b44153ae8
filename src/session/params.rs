//! [`SessionParams`]: the typed, validated parameters of one SMPP session.
//!
//! The session layer owns these types; the configuration layer builds them from TOML (the
//! Genesys option names such as `x-smpp-submit-window-size`) and gets a [`ParamError`] naming
//! the parameter when a value is out of range, before any socket opens. The ranges and defaults
//! are those of [`super::limits`]. Depends on nothing but [`crate::secret`].

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::limits::{
    self, Bounds, BIND_TIMEOUT_MS, DRAIN_TIMEOUT_MS, ENQUIRE_LINK_INTERVAL_MS, RESPONSE_TIMEOUT_MS,
    THROTTLE_PAUSE_MAX_MS, THROTTLE_PAUSE_MS, TRANSIENT_RETRY_LIMIT, WINDOW_SIZE,
};
use crate::secret::Secret;

/// Which bind operation the session performs, and so which directions it may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindMode {
    /// `bind_transmitter`: the session only submits (submit_sm out).
    Transmitter,
    /// `bind_receiver`: the session only receives (deliver_sm / data_sm in).
    Receiver,
    /// `bind_transceiver`: both directions over one connection.
    Transceiver,
}

impl BindMode {
    /// Whether a session bound this way may send submit_sm.
    pub fn can_submit(self) -> bool {
        matches!(self, BindMode::Transmitter | BindMode::Transceiver)
    }

    /// Whether a session bound this way may receive deliver_sm.
    pub fn can_receive(self) -> bool {
        matches!(self, BindMode::Receiver | BindMode::Transceiver)
    }
}

/// A parameter that cannot be used, with the parameter named so the operator can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// A C-octet string field longer than SMPP v3.4 allows (the limit excludes the NUL).
    #[error("{param} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// The parameter's name, as the session layer spells it.
        param: &'static str,
        /// The length given, in bytes.
        len: usize,
        /// The largest length allowed, in bytes.
        max: usize,
    },
    /// A string field with a byte that cannot travel in a C-octet string (NUL or non-ASCII).
    #[error("{param} must be printable ASCII without NUL bytes")]
    NotAscii {
        /// The parameter's name.
        param: &'static str,
    },
    /// A numeric parameter outside its valid range.
    #[error("{param} is {value}; it must be between {min} and {max}")]
    OutOfRange {
        /// The parameter's name.
        param: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
}

/// The SMPP version this session speaks (`interface_version` of the bind PDUs).
pub(crate) const INTERFACE_VERSION_34: u8 = 0x34;

/// Everything a session needs to bind and to pace its traffic.
///
/// Built with [`SessionParams::new`] (defaults for everything but the credentials) and the
/// `with_*` methods, each of which validates its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionParams {
    bind_mode: BindMode,
    system_id: String,
    password: Secret,
    system_type: String,
    address_range: String,
    addr_ton: u8,
    addr_npi: u8,
    interface_version: u8,
    window_size: usize,
    max_rate: u32,
    response_timeout: Duration,
    enquire_link_interval: Duration,
    bind_timeout: Duration,
    drain_timeout: Duration,
    transient_retry_limit: u32,
    throttle_pause: Duration,
    throttle_pause_max: Duration,
    /// The channel the session belongs to, for the `channel` field of its log lines.
    channel: Arc<str>,
}

fn millis(bounds: Bounds) -> Duration {
    Duration::from_millis(bounds.default)
}

fn c_string(param: &'static str, value: &str, max: usize) -> Result<String, ParamError> {
    if value.len() > max {
        return Err(ParamError::TooLong {
            param,
            len: value.len(),
            max,
        });
    }
    if !value.bytes().all(|b| b.is_ascii() && b != 0) {
        return Err(ParamError::NotAscii { param });
    }
    Ok(value.to_owned())
}

fn in_range(param: &'static str, value: u64, bounds: Bounds) -> Result<u64, ParamError> {
    let Bounds { min, max, .. } = bounds;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ParamError::OutOfRange {
            param,
            value,
            min,
            max,
        })
    }
}

fn millis_in_range(
    param: &'static str,
    value: Duration,
    bounds: Bounds,
) -> Result<Duration, ParamError> {
    let ms = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
    in_range(param, ms, bounds).map(Duration::from_millis)
}

impl SessionParams {
    /// Parameters for a transceiver bind with `system_id` and `password` (at most
    /// [`limits::MAX_SYSTEM_ID`] and [`limits::MAX_PASSWORD`] characters) and defaults for
    /// everything else.
    pub fn new(system_id: &str, password: Secret) -> Result<Self, ParamError> {
        let system_id = c_string("system_id", system_id, limits::MAX_SYSTEM_ID)?;
        c_string("password", password.expose(), limits::MAX_PASSWORD).map_err(|e| match e {
            // Never echo the password: only its length is reported, which TooLong already does.
            ParamError::NotAscii { .. } => ParamError::NotAscii { param: "password" },
            other => other,
        })?;
        Ok(SessionParams {
            bind_mode: BindMode::Transceiver,
            system_id,
            password,
            system_type: String::new(),
            address_range: String::new(),
            addr_ton: 0,
            addr_npi: 0,
            interface_version: INTERFACE_VERSION_34,
            window_size: WINDOW_SIZE.default as usize,
            max_rate: limits::DEFAULT_MAX_RATE,
            response_timeout: millis(RESPONSE_TIMEOUT_MS),
            enquire_link_interval: millis(ENQUIRE_LINK_INTERVAL_MS),
            bind_timeout: millis(BIND_TIMEOUT_MS),
            drain_timeout: millis(DRAIN_TIMEOUT_MS),
            transient_retry_limit: TRANSIENT_RETRY_LIMIT.default as u32,
            throttle_pause: millis(THROTTLE_PAUSE_MS),
            throttle_pause_max: millis(THROTTLE_PAUSE_MAX_MS),
            channel: Arc::from(""),
        })
    }

    /// Chooses the bind operation (default: transceiver).
    pub fn with_bind_mode(mut self, mode: BindMode) -> Self {
        self.bind_mode = mode;
        self
    }

    /// Sets `system_type` of the bind (at most [`limits::MAX_SYSTEM_TYPE`] characters; default
    /// empty).
    pub fn with_system_type(mut self, value: &str) -> Result<Self, ParamError> {
        self.system_type = c_string("system_type", value, limits::MAX_SYSTEM_TYPE)?;
        Ok(self)
    }

    /// Sets `address_range` of the bind (at most [`limits::MAX_ADDRESS_RANGE`] characters;
    /// default empty).
    pub fn with_address_range(mut self, value: &str) -> Result<Self, ParamError> {
        self.address_range = c_string("address_range", value, limits::MAX_ADDRESS_RANGE)?;
        Ok(self)
    }

    /// Sets `addr_ton` and `addr_npi` of the bind (default 0 / 0: unknown).
    pub fn with_addr_ton_npi(mut self, ton: u8, npi: u8) -> Self {
        self.addr_ton = ton;
        self.addr_npi = npi;
        self
    }

    /// Sets the number of submits that may await a response at once ([`WINDOW_SIZE`]).
    pub fn with_window_size(mut self, n: usize) -> Result<Self, ParamError> {
        self.window_size = in_range("window_size", n as u64, WINDOW_SIZE)? as usize;
        Ok(self)
    }

    /// Sets the most submits per second ([`limits::DEFAULT_MAX_RATE`] by default; 0 means no
    /// cap). Values above the Genesys ceiling of 1000 are allowed for SMSCs that accept them.
    pub fn with_max_rate(mut self, per_second: u32) -> Self {
        self.max_rate = per_second;
        self
    }

    /// Sets how long a request may wait for its response ([`RESPONSE_TIMEOUT_MS`]).
    pub fn with_response_timeout(mut self, value: Duration) -> Result<Self, ParamError> {
        self.response_timeout = millis_in_range("response_timeout", value, RESPONSE_TIMEOUT_MS)?;
        Ok(self)
    }

    /// Sets the idle time after which an enquire_link is sent ([`ENQUIRE_LINK_INTERVAL_MS`]).
    pub fn with_enquire_link_interval(mut self, value: Duration) -> Result<Self, ParamError> {
        self.enquire_link_interval =
            millis_in_range("enquire_link_interval", value, ENQUIRE_LINK_INTERVAL_MS)?;
        Ok(self)
    }

    /// Sets how long the bind may wait for its bind_resp ([`BIND_TIMEOUT_MS`]).
    pub fn with_bind_timeout(mut self, value: Duration) -> Result<Self, ParamError> {
        self.bind_timeout = millis_in_range("bind_timeout", value, BIND_TIMEOUT_MS)?;
        Ok(self)
    }

    /// Sets how long a graceful stop waits for responses in flight ([`DRAIN_TIMEOUT_MS`]).
    pub fn with_drain_timeout(mut self, value: Duration) -> Result<Self, ParamError> {
        self.drain_timeout = millis_in_range("drain_timeout", value, DRAIN_TIMEOUT_MS)?;
        Ok(self)
    }

    /// Sets how many times a message is re-submitted after transient errors
    /// ([`TRANSIENT_RETRY_LIMIT`]).
    pub fn with_transient_retry_limit(mut self, n: u32) -> Result<Self, ParamError> {
        self.transient_retry_limit =
            in_range("transient_retry_limit", n.into(), TRANSIENT_RETRY_LIMIT)? as u32;
        Ok(self)
    }

    /// Sets the first and the longest pause after throttling responses
    /// ([`THROTTLE_PAUSE_MS`], [`THROTTLE_PAUSE_MAX_MS`]; the first at most the longest).
    pub fn with_throttle_pause(
        mut self,
        first: Duration,
        max: Duration,
    ) -> Result<Self, ParamError> {
        let max = millis_in_range("throttle_pause_max", max, THROTTLE_PAUSE_MAX_MS)?;
        let first_bounds = Bounds {
            max: max.as_millis() as u64,
            ..THROTTLE_PAUSE_MS
        };
        let first = millis_in_range("throttle_pause", first, first_bounds)?;
        self.throttle_pause = first;
        self.throttle_pause_max = max;
        Ok(self)
    }

    /// Names the channel the session serves: its log lines carry it as `channel` (default
    /// empty; the supervisor sets it to the channel's name). Not an SMPP parameter.
    pub fn with_channel(mut self, name: &str) -> Self {
        self.channel = Arc::from(name);
        self
    }

    /// The channel name the session's log lines carry.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The bind operation.
    pub fn bind_mode(&self) -> BindMode {
        self.bind_mode
    }
    /// `system_id` of the bind.
    pub fn system_id(&self) -> &str {
        &self.system_id
    }
    /// `password` of the bind.
    pub fn password(&self) -> &Secret {
        &self.password
    }
    /// `system_type` of the bind.
    pub fn system_type(&self) -> &str {
        &self.system_type
    }
    /// `address_range` of the bind.
    pub fn address_range(&self) -> &str {
        &self.address_range
    }
    /// `addr_ton` of the bind.
    pub fn addr_ton(&self) -> u8 {
        self.addr_ton
    }
    /// `addr_npi` of the bind.
    pub fn addr_npi(&self) -> u8 {
        self.addr_npi
    }
    /// `interface_version` of the bind (always 0x34).
    pub fn interface_version(&self) -> u8 {
        self.interface_version
    }
    /// Most submits awaiting a response at once.
    pub fn window_size(&self) -> usize {
        self.window_size
    }
    /// Most submits per second; 0 means no cap.
    pub fn max_rate(&self) -> u32 {
        self.max_rate
    }
    /// Per-request response timeout.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }
    /// Idle time before an enquire_link.
    pub fn enquire_link_interval(&self) -> Duration {
        self.enquire_link_interval
    }
    /// Bind response timeout.
    pub fn bind_timeout(&self) -> Duration {
        self.bind_timeout
    }
    /// Bound on graceful-stop draining.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }
    /// Re-submissions allowed after transient errors.
    pub fn transient_retry_limit(&self) -> u32 {
        self.transient_retry_limit
    }
    /// First pause after a throttling response.
    pub fn throttle_pause(&self) -> Duration {
        self.throttle_pause
    }
    /// Longest pause after repeated throttling responses.
    pub fn throttle_pause_max(&self) -> Duration {
        self.throttle_pause_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SessionParams {
        SessionParams::new("esme", Secret::new("secret")).unwrap()
    }

    #[test]
    fn defaults_match_the_documented_options() {
        let p = base();
        assert_eq!(p.bind_mode(), BindMode::Transceiver);
        assert_eq!(p.window_size(), 10);
        assert_eq!(p.max_rate(), 10);
        assert_eq!(p.response_timeout(), Duration::from_millis(30_000));
        assert_eq!(p.interface_version(), 0x34);
    }

    #[test]
    fn string_limits_name_the_parameter() {
        let e = SessionParams::new("0123456789abcdef", Secret::new("x")).unwrap_err();
        assert_eq!(
            e,
            ParamError::TooLong {
                param: "system_id",
                len: 16,
                max: 15
            }
        );
        assert!(SessionParams::new("0123456789abcde", Secret::new("12345678")).is_ok());
        let e = SessionParams::new("id", Secret::new("123456789")).unwrap_err();
        assert!(matches!(
            e,
            ParamError::TooLong {
                param: "password",
                ..
            }
        ));
        assert!(!e.to_string().contains("123456789"));
        let e = base().with_system_type("0123456789abc").unwrap_err();
        assert!(matches!(
            e,
            ParamError::TooLong {
                param: "system_type",
                ..
            }
        ));
        let e = base().with_address_range(&"1".repeat(41)).unwrap_err();
        assert!(matches!(
            e,
            ParamError::TooLong {
                param: "address_range",
                ..
            }
        ));
        let e = base().with_system_type("a\0b").unwrap_err();
        assert_eq!(
            e,
            ParamError::NotAscii {
                param: "system_type"
            }
        );
    }

    #[test]
    fn numeric_ranges_are_enforced() {
        assert!(base().with_window_size(0).is_err());
        assert!(base().with_window_size(1000).is_ok());
        assert!(matches!(
            base().with_window_size(1001),
            Err(ParamError::OutOfRange {
                param: "window_size",
                ..
            })
        ));
        assert!(base()
            .with_response_timeout(Duration::from_millis(999))
            .is_err());
        assert!(base()
            .with_response_timeout(Duration::from_millis(180_000))
            .is_ok());
        assert!(base()
            .with_response_timeout(Duration::from_millis(180_001))
            .is_err());
        assert_eq!(base().with_max_rate(0).max_rate(), 0);
        assert_eq!(base().with_max_rate(5000).max_rate(), 5000);
        assert!(base()
            .with_throttle_pause(Duration::from_secs(2), Duration::from_secs(1))
            .is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = SessionParams::new("esme", Secret::new("hunter2")).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
