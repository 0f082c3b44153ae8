//! outbind (SMPP 3.4 §4.1.7): the SMSC asks a receiver ESME to bind.

use super::body::Body;
use crate::codec::types::{Password, SystemId};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of an outbind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind {
    /// Identifies the SMSC (max 16 incl. NUL).
    pub system_id: SystemId,
    /// Authenticates the SMSC (max 9 incl. NUL). Masked in dumps.
    pub password: Password,
}

impl Body for Outbind {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let o = Outbind {
            system_id: r.c_octet("system_id")?,
            password: r.c_octet("password")?,
        };
        r.finish()?;
        Ok(o)
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len() + self.password.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.system_id);
        w.c_octet(&self.password);
    }
}
