//! Bounded field types (SMPP 3.4 §3.1): C-Octet strings, SMPP time strings and the
//! short_message octet string. They are validated when built, so a PDU made of them always
//! encodes within the specification's limits. short_message holds `Bytes` so that decoding
//! shares the frame's memory instead of copying it.

use bytes::Bytes;
use thiserror::Error;

/// Why a value does not fit a bounded field type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// Longer than the field allows.
    #[error("{len} octets exceed the maximum of {max} (excluding the NUL terminator)")]
    TooLong {
        /// Octets supplied.
        len: usize,
        /// Maximum octets allowed.
        max: usize,
    },
    /// Shorter than the field allows (some TLVs have a minimum length).
    #[error("{len} octets are below the minimum of {min}")]
    TooShort {
        /// Octets supplied.
        len: usize,
        /// Minimum octets required.
        min: usize,
    },
    /// A C-Octet string cannot contain NUL: it would end the string early on the wire.
    #[error("contains a NUL octet at index {index}")]
    InteriorNul {
        /// Position of the NUL.
        index: usize,
    },
    /// An SMPP time string is not `YYMMDDhhmmsstnnp`.
    #[error("not an SMPP time string (YYMMDDhhmmsstnnp with p one of +, -, R): {0}")]
    BadTime(&'static str),
}

/// A C-Octet string (SMPP 3.4 §3.1) of at most `MAX` octets *including* the NUL terminator,
/// the way the specification's field tables state the size. Holds the octets without the NUL.
///
/// Stored inline (at most 65 octets for any mandatory field) rather than as a `Bytes` slice of
/// the frame: copying a few dozen octets costs less than the two atomic reference-count updates
/// a shared slice needs, and it keeps the PDU free of heap references. short_message and TLV
/// values, which can be large, stay zero-copy `Bytes`.
///
/// Octets of `buf` past `len` are unspecified (the decoder copies a whole fixed-size window,
/// which compiles to a few register moves instead of a `memcpy` call); nothing reads them.
///
/// The length is one octet (every field is at most 65 octets), which keeps the struct at
/// `MAX + 1` octets with alignment 1: a submit_sm body is moved and dropped as a whole, so
/// every padding octet saved is an octet not copied per decode.
#[derive(Clone, Copy)]
pub struct COctetString<const MAX: usize> {
    len: u8,
    buf: [u8; MAX],
}

impl<const MAX: usize> COctetString<MAX> {
    /// The empty string (encodes as a lone NUL, the spec's "NULL").
    pub const fn empty() -> Self {
        const { assert!(MAX <= 256, "the length must fit one octet") };
        COctetString {
            len: 0,
            buf: [0; MAX],
        }
    }

    /// Builds the string, refusing interior NULs and more than `MAX - 1` octets.
    pub fn new(value: impl AsRef<[u8]>) -> Result<Self, ValueError> {
        let value = value.as_ref();
        if let Some(index) = value.iter().position(|&b| b == 0) {
            return Err(ValueError::InteriorNul { index });
        }
        if value.len() >= MAX {
            return Err(ValueError::TooLong {
                len: value.len(),
                max: MAX.saturating_sub(1),
            });
        }
        Ok(Self::from_checked(value))
    }

    /// Copies octets already checked by the decoder (no NUL, shorter than `MAX`).
    #[inline]
    pub(crate) fn from_checked(value: &[u8]) -> Self {
        let mut s = Self::empty();
        if let Some(dst) = s.buf.get_mut(..value.len()) {
            dst.copy_from_slice(value);
            // value.len() < MAX <= 256 (the slice fits the buffer).
            s.len = value.len() as u8;
        }
        s
    }

    /// Takes a whole `MAX`-octet window whose first NUL is at `len` (checked by the caller).
    #[inline]
    pub(crate) fn from_window(buf: [u8; MAX], len: usize) -> Self {
        COctetString {
            // At most MAX - 1 <= 255.
            len: len.min(MAX.saturating_sub(1)) as u8,
            buf,
        }
    }

    /// The inline buffer, for the encoder's fixed-size copy; octets past `len` are unspecified.
    #[inline]
    pub(crate) fn raw(&self) -> (&[u8; MAX], usize) {
        (&self.buf, usize::from(self.len))
    }

    /// The octets, without the terminator.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The text if it is UTF-8 (SMPP strings are ASCII in practice).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// True for the spec's "NULL" (empty) string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Octets on the wire, terminator included.
    #[inline]
    pub fn wire_len(&self) -> usize {
        usize::from(self.len) + 1
    }
}

impl<const MAX: usize> Default for COctetString<MAX> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const MAX: usize> PartialEq for COctetString<MAX> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const MAX: usize> Eq for COctetString<MAX> {}

impl<const MAX: usize> std::hash::Hash for COctetString<MAX> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const MAX: usize> std::fmt::Debug for COctetString<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl<const MAX: usize> TryFrom<&str> for COctetString<MAX> {
    type Error = ValueError;
    fn try_from(s: &str) -> Result<Self, ValueError> {
        COctetString::new(s)
    }
}

/// service_type: C-Octet string, max 6 including NUL.
pub(crate) type ServiceType = COctetString<6>;
/// system_id: C-Octet string, max 16 including NUL.
pub type SystemId = COctetString<16>;
/// password: C-Octet string, max 9 including NUL.
pub(crate) type Password = COctetString<9>;
/// system_type: C-Octet string, max 13 including NUL.
pub(crate) type SystemType = COctetString<13>;
/// address_range: C-Octet string, max 41 including NUL.
pub(crate) type AddressRange = COctetString<41>;
/// source_addr / destination_addr in submit_sm, deliver_sm and friends: max 21 including NUL.
pub type Addr21 = COctetString<21>;
/// Addresses in data_sm and alert_notification: max 65 including NUL.
pub(crate) type Addr65 = COctetString<65>;
/// message_id: C-Octet string, max 65 including NUL.
pub type MessageId = COctetString<65>;
/// dl_name in submit_multi: max 21 including NUL.
pub(crate) type DlName = COctetString<21>;

/// Whether an SMPP time string is absolute or relative (SMPP 3.4 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Empty: "immediate" / "SMSC default".
    Unset,
    /// `p` is `+` or `-`: an absolute time with a UTC offset in quarter hours.
    Absolute,
    /// `p` is `R`: a period relative to the SMSC's current time.
    Relative,
}

/// schedule_delivery_time, validity_period, final_date: empty or exactly
/// `YYMMDDhhmmsstnnp` (16 characters, 17 octets with the NUL), SMPP 3.4 §7.1.1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SmppTime(COctetString<17>);

impl SmppTime {
    /// The empty time (NULL): "immediate" or "use the SMSC default".
    pub const fn unset() -> Self {
        SmppTime(COctetString::empty())
    }

    /// Validates the `YYMMDDhhmmsstnnp` layout; the empty string is accepted as unset.
    pub fn new(value: impl AsRef<[u8]>) -> Result<Self, ValueError> {
        let s = COctetString::<17>::new(value)?;
        Self::check(s.as_bytes())?;
        Ok(SmppTime(s))
    }

    pub(crate) fn check(v: &[u8]) -> Result<(), ValueError> {
        if v.is_empty() {
            return Ok(());
        }
        let Some((p, digits)) = v.split_last() else {
            return Ok(());
        };
        if digits.len() != 15 {
            return Err(ValueError::BadTime("must be 16 characters"));
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::BadTime(
                "the first 15 characters must be digits",
            ));
        }
        let two = |i: usize| {
            match digits.get(i..i + 2) {
                // All 15 are ASCII digits (checked above), so the subtraction cannot wrap.
                Some([a, b]) => (a - b'0') * 10 + (b - b'0'),
                _ => 0,
            }
        };
        match p {
            b'+' | b'-' => {
                let (month, day, hour, min, sec, nn) =
                    (two(2), two(4), two(6), two(8), two(10), two(13));
                if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                    return Err(ValueError::BadTime("month or day out of range"));
                }
                if hour > 23 || min > 59 || sec > 59 {
                    return Err(ValueError::BadTime("hour, minute or second out of range"));
                }
                if nn > 48 {
                    return Err(ValueError::BadTime("UTC offset above 48 quarter hours"));
                }
                Ok(())
            }
            b'R' => Ok(()),
            _ => Err(ValueError::BadTime("last character must be +, - or R")),
        }
    }

    pub(crate) fn from_checked(s: COctetString<17>) -> Self {
        SmppTime(s)
    }

    /// Absolute, relative or unset.
    pub fn kind(&self) -> TimeKind {
        match self.0.as_bytes().last() {
            None => TimeKind::Unset,
            Some(b'R') => TimeKind::Relative,
            Some(_) => TimeKind::Absolute,
        }
    }

    /// The underlying C-Octet string.
    pub fn as_c_octet(&self) -> &COctetString<17> {
        &self.0
    }
}

impl std::fmt::Debug for SmppTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// short_message: 0 to 254 octets of user data, preceded on the wire by sm_length
/// (SMPP 3.4 §5.2.21). Shares the frame's memory when decoded.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ShortMessage(Bytes);

impl ShortMessage {
    /// The largest short_message SMPP 3.4 allows; longer text goes in message_payload.
    pub const MAX: usize = 254;

    /// Builds a short_message, refusing more than 254 octets.
    pub fn new(value: impl Into<Bytes>) -> Result<Self, ValueError> {
        let value = value.into();
        if value.len() > Self::MAX {
            return Err(ValueError::TooLong {
                len: value.len(),
                max: Self::MAX,
            });
        }
        Ok(ShortMessage(value))
    }

    pub(crate) fn from_checked(value: Bytes) -> Self {
        ShortMessage(value)
    }

    /// Narrows to `start..end` of the current octets, in place (no reference-count update).
    #[inline]
    pub(crate) fn narrow(&mut self, start: usize, end: usize) {
        use bytes::Buf;
        self.0.truncate(end);
        self.0.advance(start.min(self.0.len()));
    }

    /// The octets (no copy).
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The octets as a slice.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// sm_length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when sm_length is zero.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for ShortMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_octet_string_limits_include_the_nul() {
        assert!(SystemId::try_from("123456789012345").is_ok());
        assert_eq!(
            SystemId::try_from("1234567890123456"),
            Err(ValueError::TooLong { len: 16, max: 15 })
        );
        assert_eq!(
            Password::try_from("a\0b"),
            Err(ValueError::InteriorNul { index: 1 })
        );
    }

    #[test]
    fn smpp_time_accepts_absolute_relative_and_empty() {
        assert_eq!(
            SmppTime::new("260101120000004+").map(|t| t.kind()),
            Ok(TimeKind::Absolute)
        );
        assert_eq!(
            SmppTime::new("000001000000000R").map(|t| t.kind()),
            Ok(TimeKind::Relative)
        );
        assert_eq!(SmppTime::new("").map(|t| t.kind()), Ok(TimeKind::Unset));
        assert!(SmppTime::new("260101120000004X").is_err());
        assert!(SmppTime::new("261301120000004+").is_err());
        assert!(SmppTime::new("2601011200004+").is_err());
        assert!(SmppTime::new("2601011200000a4+").is_err());
    }

    #[test]
    fn short_message_is_at_most_254_octets() {
        assert!(ShortMessage::new(vec![0u8; 254]).is_ok());
        assert!(ShortMessage::new(vec![0u8; 255]).is_err());
    }
}
