//! Reading and writing the field types on the wire, with offsets for error messages.
//!
//! `Reader` walks a PDU body; every read is bounds-checked and reports the field's spec name
//! and byte offset on failure. It optionally records each field it reads (the [`Trace`]
//! parameter) so that the human-readable dump shows exactly the fields the decoder saw, up to
//! the point where it stopped, with no second parser to keep in step.

use super::error::Reason;
use super::header::HEADER_LEN;
use super::tlv::{Tlv, TlvTag, Tlvs};
use super::types::{COctetString, ShortMessage, SmppTime};
use bytes::Bytes;

/// A field value as the decoder saw it, for [`Trace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// One-octet integer.
    U8(u8),
    /// Four-octet integer.
    U32(u32),
    /// C-Octet string (without NUL).
    COctet(Bytes),
    /// Octet string (short_message).
    Octets(Bytes),
    /// An optional parameter.
    Tlv(Tlv),
}

/// Receives each field as it is decoded. The decoder's own no-op tracer compiles away.
pub trait Trace {
    /// False for the no-op tracer, so the decoder skips building [`FieldValue`]s entirely.
    const ENABLED: bool;
    /// Called after a field has been read successfully.
    fn field(&mut self, name: &'static str, offset: usize, value: FieldValue);
}

/// Records nothing; the decoding fast path.
#[derive(Debug, Default)]
pub(crate) struct NoTrace;

impl Trace for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn field(&mut self, _: &'static str, _: usize, _: FieldValue) {}
}

/// A field read failure before the PDU header is attached.
#[derive(Debug)]
pub(crate) struct Fail {
    pub field: &'static str,
    pub offset: usize,
    pub reason: Reason,
}

/// Boxed so that the `Ok` path moves only the value: the error is rare and allowed to allocate.
pub(crate) type ReadResult<T> = Result<T, Box<Fail>>;

/// Bounds-checked cursor over one PDU body.
pub(crate) struct Reader<'a, T: Trace> {
    body: &'a Bytes,
    /// `body` as a plain slice, so reads skip the `Bytes` indirection.
    data: &'a [u8],
    pos: usize,
    trace: &'a mut T,
    /// When set, short_message is not sliced but its range recorded here, so that a caller
    /// owning the frame can hand the frame's own `Bytes` to it (one reference count fewer).
    deferred_sm: Option<(usize, usize)>,
    defer_sm: bool,
}

impl<'a, T: Trace> Reader<'a, T> {
    pub(crate) fn new(body: &'a Bytes, trace: &'a mut T) -> Self {
        Reader {
            body,
            data: body.as_ref(),
            pos: 0,
            trace,
            deferred_sm: None,
            defer_sm: false,
        }
    }

    /// Records short_message's range instead of slicing it; see [`Reader::deferred_sm`].
    pub(crate) fn defer_short_message(&mut self) {
        self.defer_sm = true;
    }

    /// The (start, end) of short_message within the body, when deferred and non-empty.
    pub(crate) fn deferred_sm(&self) -> Option<(usize, usize)> {
        self.deferred_sm
    }

    /// Offset of the next field from the first octet of the PDU.
    pub(crate) fn offset(&self) -> usize {
        HEADER_LEN + self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    #[cold]
    fn fail(&self, field: &'static str, reason: Reason) -> Box<Fail> {
        Box::new(Fail {
            field,
            offset: self.offset(),
            reason,
        })
    }

    fn take(&mut self, field: &'static str, n: usize) -> ReadResult<&'a [u8]> {
        let data: &'a [u8] = self.data;
        match data.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.fail(
                field,
                Reason::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
            )),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> ReadResult<u8> {
        let at = self.offset();
        let v = match self.take(field, 1)? {
            [b] => *b,
            _ => 0,
        };
        if T::ENABLED {
            self.trace.field(field, at, FieldValue::U8(v));
        }
        Ok(v)
    }

    /// Several consecutive one-octet fields in one bounds check (each still traced by name).
    #[inline]
    pub(crate) fn u8s<const N: usize>(&mut self, fields: [&'static str; N]) -> ReadResult<[u8; N]> {
        let at = self.pos;
        let data: &'a [u8] = self.data;
        let Some(run) = data
            .get(at..at + N)
            .and_then(|r| <[u8; N]>::try_from(r).ok())
        else {
            // Fall back to field-by-field reads so the error names the first missing field.
            let mut out = [0u8; N];
            for (slot, field) in out.iter_mut().zip(fields) {
                *slot = self.u8(field)?;
            }
            return Ok(out);
        };
        self.pos += N;
        if T::ENABLED {
            for (i, (field, v)) in fields.iter().zip(run).enumerate() {
                self.trace
                    .field(field, HEADER_LEN + at + i, FieldValue::U8(v));
            }
        }
        Ok(run)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> ReadResult<u32> {
        let at = self.offset();
        let v = match self.take(field, 4)? {
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        };
        if T::ENABLED {
            self.trace.field(field, at, FieldValue::U32(v));
        }
        Ok(v)
    }

    /// A C-Octet string of at most `MAX` octets including the NUL, sharing the body's memory.
    #[inline]
    pub(crate) fn c_octet<const MAX: usize>(
        &mut self,
        field: &'static str,
    ) -> ReadResult<COctetString<MAX>> {
        let at = self.offset();
        let data: &'a [u8] = self.data;
        let rest = data.get(self.pos..).unwrap_or_default();
        // NULL is the most common value of service_type and the time fields: skip the copy.
        if rest.first() == Some(&0) {
            if T::ENABLED {
                self.trace
                    .field(field, at, FieldValue::COctet(Bytes::new()));
            }
            self.pos += 1;
            return Ok(COctetString::empty());
        }
        let window = rest.get(..MAX).unwrap_or(rest);
        let Some(len) = window.iter().position(|&b| b == 0) else {
            return Err(if window.len() < MAX {
                // Ran out of body before the NUL: the PDU is cut short.
                self.fail(
                    field,
                    Reason::Truncated {
                        needed: window.len() + 1,
                        available: window.len(),
                    },
                )
            } else {
                self.fail(field, Reason::MissingNul { max: MAX })
            });
        };
        // A full window copies as a fixed-size array (no memcpy call); near the end of the
        // body fall back to copying exactly the string.
        let value = match <[u8; MAX]>::try_from(window) {
            Ok(full) => COctetString::from_window(full, len),
            Err(_) => COctetString::from_checked(window.get(..len).unwrap_or_default()),
        };
        if T::ENABLED {
            let shared = self.body.slice(self.pos..self.pos + len);
            self.trace.field(field, at, FieldValue::COctet(shared));
        }
        self.pos += len + 1;
        Ok(value)
    }

    /// schedule_delivery_time, validity_period or final_date. Always inlined: returned through
    /// memory, the 18-octet result is stored in pieces and reloaded whole, a store-forwarding
    /// stall per call that cost more than the parse.
    #[inline(always)]
    pub(crate) fn time(&mut self, field: &'static str) -> ReadResult<SmppTime> {
        let at = self.offset();
        let s = self.c_octet::<17>(field)?;
        SmppTime::check(s.as_bytes()).map_err(|e| {
            Box::new(Fail {
                field,
                offset: at,
                reason: match e {
                    super::types::ValueError::BadTime(why) => Reason::BadTime(why),
                    _ => Reason::BadTime("malformed"),
                },
            })
        })?;
        Ok(SmppTime::from_checked(s))
    }

    /// sm_length then short_message (zero-copy).
    #[inline]
    pub(crate) fn short_message(&mut self) -> ReadResult<ShortMessage> {
        let at = self.offset();
        let sm_length = self.u8("sm_length")?;
        if usize::from(sm_length) > ShortMessage::MAX {
            return Err(Box::new(Fail {
                field: "sm_length",
                offset: at,
                reason: Reason::SmLengthTooLarge(sm_length),
            }));
        }
        let start = self.pos;
        let at = self.offset();
        self.take("short_message", usize::from(sm_length))?;
        if self.defer_sm && !T::ENABLED {
            if sm_length > 0 {
                self.deferred_sm = Some((start, self.pos));
            }
            return Ok(ShortMessage::default());
        }
        let value = self.body.slice(start..self.pos);
        if T::ENABLED {
            self.trace
                .field("short_message", at, FieldValue::Octets(value.clone()));
        }
        Ok(ShortMessage::from_checked(value))
    }

    /// All TLVs up to the end of the body, checking the standard tags' lengths.
    pub(crate) fn tlvs(&mut self) -> ReadResult<Tlvs> {
        if self.remaining() == 0 {
            return Ok(Tlvs::new());
        }
        // Count first (a walk over the tag/length headers), so the Vec is allocated once at
        // its final size instead of growing through RawVec's out-of-line grow path. Capped, so
        // a hostile body of empty TLVs cannot make the first allocation large before it fails.
        const PRESIZE_MAX: usize = 32;
        let mut count = 0usize;
        let mut at = self.pos;
        while let (true, Some([_, _, l0, l1])) = (count < PRESIZE_MAX, self.data.get(at..at + 4)) {
            count += 1;
            at += 4 + usize::from(u16::from_be_bytes([*l0, *l1]));
        }
        let mut out = Tlvs(Vec::with_capacity(count));
        while self.remaining() > 0 {
            let at = self.offset();
            let Some([t0, t1, l0, l1]) = self.data.get(self.pos..self.pos + 4) else {
                return Err(self.fail("tlv", Reason::TlvHeaderTruncated(self.remaining())));
            };
            let tag = TlvTag::from(u16::from_be_bytes([*t0, *t1]));
            let length = u16::from_be_bytes([*l0, *l1]);
            let start = self.pos + 4;
            let end = start + usize::from(length);
            if end > self.data.len() {
                let available = self.data.len() - start;
                return Err(Box::new(Fail {
                    field: field_name(tag),
                    offset: at,
                    reason: Reason::TlvValueTruncated {
                        tag: tag.value(),
                        length,
                        available,
                    },
                }));
            }
            if let Some(kind) = tag.kind() {
                let (min, max) = kind.length_range();
                if length < min || length > max {
                    return Err(Box::new(Fail {
                        field: field_name(tag),
                        offset: at,
                        reason: Reason::TlvLength {
                            tag,
                            length,
                            min,
                            max,
                        },
                    }));
                }
            }
            let tlv = Tlv::from_checked(tag, self.body, start, end);
            self.pos = end;
            if T::ENABLED {
                self.trace
                    .field(field_name(tag), at, FieldValue::Tlv(tlv.clone()));
            }
            out.push(tlv);
        }
        Ok(out)
    }

    /// Fails if octets are left after the last mandatory field of a PDU without TLVs.
    pub(crate) fn finish(&self) -> ReadResult<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.fail("body", Reason::TrailingBytes(n))),
        }
    }
}

fn field_name(tag: TlvTag) -> &'static str {
    tag.spec_name().unwrap_or("tlv")
}

/// Writes a PDU into a slice that was sized from the precomputed command_length, so each field
/// is a plain copy rather than a growable-buffer append with its own capacity check.
///
/// A write past the end (which would mean a `wire_len` bug) is dropped and remembered instead
/// of panicking; [`Writer::fits`] lets the caller refuse the result.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Writer {
            out,
            pos: 0,
            overflow: false,
        }
    }

    #[inline]
    pub(crate) fn slice(&mut self, src: &[u8]) {
        match self.out.get_mut(self.pos..self.pos + src.len()) {
            Some(dst) => {
                dst.copy_from_slice(src);
                self.pos += src.len();
            }
            None => self.overflow = true,
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        match self.out.get_mut(self.pos) {
            Some(dst) => {
                *dst = v;
                self.pos += 1;
            }
            None => self.overflow = true,
        }
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.slice(&v.to_be_bytes());
    }

    /// A C-Octet string and its terminator.
    #[inline]
    pub(crate) fn c_octet<const MAX: usize>(&mut self, s: &COctetString<MAX>) {
        let (buf, len) = s.raw();
        // Copy the whole fixed-size buffer when it fits (a few register moves), then place the
        // NUL; later fields overwrite whatever followed it. Otherwise copy exactly.
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + MAX) {
            dst.copy_from_slice(buf);
            if let Some(nul) = dst.get_mut(len) {
                *nul = 0;
                self.pos += len + 1;
                return;
            }
        }
        self.slice(s.as_bytes());
        self.u8(0);
    }

    /// sm_length then short_message.
    #[inline]
    pub(crate) fn short_message(&mut self, sm: &ShortMessage) {
        // ShortMessage is bounded to 254 octets at construction.
        self.u8(u8::try_from(sm.len()).unwrap_or(u8::MAX));
        self.slice(sm.as_bytes());
    }

    /// True when every write landed and exactly filled the slice.
    pub(crate) fn fits(&self) -> bool {
        !self.overflow && self.pos == self.out.len()
    }
}
