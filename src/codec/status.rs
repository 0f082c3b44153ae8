//! command_status values (SMPP 3.4 §5.1.3) and how the session should treat each one.
//!
//! The classification ([`StatusClass`]) is what the session layer acts on:
//! * `Ok`: the request succeeded.
//! * `Transient`: the same request may succeed later (throttling, queue full, SMSC-side
//!   trouble); retry with back-off.
//! * `Permanent`: the request itself is wrong or refused (bad address, bad credentials);
//!   retrying unchanged cannot help, fail the message.
//! * `Protocol`: the peers disagree about framing or session state (bad length, unknown
//!   command, wrong bind state); the link itself is suspect, so the session should re-bind
//!   rather than fail only one message.
//!
//! Unknown (vendor) values are `Permanent`: retrying an unexplained refusal risks a retry storm,
//! and operators can reclassify a vendor code above the codec if their SMSC documents it.

/// How the session layer should react to a command_status (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum StatusClass {
    /// ESME_ROK.
    Ok,
    /// Retry later may succeed.
    Transient,
    /// Retrying the same request cannot succeed.
    Permanent,
    /// Framing or session-state disagreement: the link is suspect.
    Protocol,
}

macro_rules! statuses {
    ($( $(#[$vmeta:meta])* $variant:ident = $value:literal, $name:literal, $class:ident, $meaning:literal; )*) => {
        /// A command_status value (SMPP 3.4 §5.1.3). Unknown values are kept in `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandStatus {
            $( $(#[$vmeta])* #[doc = $meaning] $variant, )*
            /// A value SMPP 3.4 does not define (reserved or SMSC vendor-specific).
            Other(u32),
        }

        impl CommandStatus {
            /// The wire value.
            #[inline]
            pub const fn value(self) -> u32 {
                // Nearly every PDU on the wire carries ESME_ROK: that case costs a compare
                // instead of an out-of-line call into the full table.
                match self {
                    CommandStatus::EsmeRok => 0,
                    other => other.table_value(),
                }
            }

            const fn table_value(self) -> u32 {
                match self { $( CommandStatus::$variant => $value, )* CommandStatus::Other(v) => v }
            }

            /// The specification's name, e.g. `ESME_RINVMSGLEN`; `None` for unknown values.
            pub const fn spec_name(self) -> Option<&'static str> {
                match self { $( CommandStatus::$variant => Some($name), )* CommandStatus::Other(_) => None }
            }

            /// The specification's one-line description.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $( CommandStatus::$variant => $meaning, )*
                    CommandStatus::Other(v) if v >= 0x400 && v <= 0x4FF => "SMSC vendor specific error",
                    CommandStatus::Other(_) => "Reserved (not defined by SMPP 3.4)",
                }
            }

            /// How the session should react; see the module documentation for the reasons.
            pub const fn class(self) -> StatusClass {
                match self { $( CommandStatus::$variant => StatusClass::$class, )* CommandStatus::Other(_) => StatusClass::Permanent }
            }
        }

        impl From<u32> for CommandStatus {
            fn from(v: u32) -> Self {
                match v { $( $value => CommandStatus::$variant, )* other => CommandStatus::Other(other) }
            }
        }
    };
}

statuses! {
    EsmeRok = 0x0000_0000, "ESME_ROK", Ok, "No Error.";
    EsmeRinvmsglen = 0x0000_0001, "ESME_RINVMSGLEN", Permanent, "Message Length is invalid.";
    // Our own framing was rejected: the link is out of step.
    EsmeRinvcmdlen = 0x0000_0002, "ESME_RINVCMDLEN", Protocol, "Command Length is invalid.";
    EsmeRinvcmdid = 0x0000_0003, "ESME_RINVCMDID", Protocol, "Invalid Command ID.";
    // We sent a command the SMSC does not expect in our bind state: re-bind.
    EsmeRinvbndsts = 0x0000_0004, "ESME_RINVBNDSTS", Protocol, "Incorrect BIND Status for given command.";
    EsmeRalybnd = 0x0000_0005, "ESME_RALYBND", Protocol, "ESME Already in Bound State.";
    EsmeRinvprtflg = 0x0000_0006, "ESME_RINVPRTFLG", Permanent, "Invalid Priority Flag.";
    EsmeRinvregdlvflg = 0x0000_0007, "ESME_RINVREGDLVFLG", Permanent, "Invalid Registered Delivery Flag.";
    // A generic SMSC-side failure: usually temporary, so retry.
    EsmeRsyserr = 0x0000_0008, "ESME_RSYSERR", Transient, "System Error.";
    EsmeRinvsrcadr = 0x0000_000A, "ESME_RINVSRCADR", Permanent, "Invalid Source Address.";
    EsmeRinvdstadr = 0x0000_000B, "ESME_RINVDSTADR", Permanent, "Invalid Dest Addr.";
    EsmeRinvmsgid = 0x0000_000C, "ESME_RINVMSGID", Permanent, "Message ID is invalid.";
    // Bind refusals: the same credentials will be refused again.
    EsmeRbindfail = 0x0000_000D, "ESME_RBINDFAIL", Permanent, "Bind Failed.";
    EsmeRinvpaswd = 0x0000_000E, "ESME_RINVPASWD", Permanent, "Invalid Password.";
    EsmeRinvsysid = 0x0000_000F, "ESME_RINVSYSID", Permanent, "Invalid System ID.";
    EsmeRcancelfail = 0x0000_0011, "ESME_RCANCELFAIL", Permanent, "Cancel SM Failed.";
    EsmeRreplacefail = 0x0000_0013, "ESME_RREPLACEFAIL", Permanent, "Replace SM Failed.";
    // The SMSC queue will drain.
    EsmeRmsgqful = 0x0000_0014, "ESME_RMSGQFUL", Transient, "Message Queue Full.";
    EsmeRinvsertyp = 0x0000_0015, "ESME_RINVSERTYP", Permanent, "Invalid Service Type.";
    EsmeRinvnumdests = 0x0000_0033, "ESME_RINVNUMDESTS", Permanent, "Invalid number of destinations.";
    EsmeRinvdlname = 0x0000_0034, "ESME_RINVDLNAME", Permanent, "Invalid Distribution List name.";
    EsmeRinvdestflag = 0x0000_0040, "ESME_RINVDESTFLAG", Permanent, "Destination flag is invalid (submit_multi).";
    EsmeRinvsubrep = 0x0000_0042, "ESME_RINVSUBREP", Permanent, "Invalid 'submit with replace' request (i.e. submit_sm with replace_if_present_flag set).";
    EsmeRinvesmclass = 0x0000_0043, "ESME_RINVESMCLASS", Permanent, "Invalid esm_class field data.";
    EsmeRcntsubdl = 0x0000_0044, "ESME_RCNTSUBDL", Permanent, "Cannot Submit to Distribution List.";
    // Unspecified by the SMSC; treated as a refusal of this message, not of the link.
    EsmeRsubmitfail = 0x0000_0045, "ESME_RSUBMITFAIL", Permanent, "submit_sm or submit_multi failed.";
    EsmeRinvsrcton = 0x0000_0048, "ESME_RINVSRCTON", Permanent, "Invalid Source address TON.";
    EsmeRinvsrcnpi = 0x0000_0049, "ESME_RINVSRCNPI", Permanent, "Invalid Source address NPI.";
    EsmeRinvdstton = 0x0000_0050, "ESME_RINVDSTTON", Permanent, "Invalid Destination address TON.";
    EsmeRinvdstnpi = 0x0000_0051, "ESME_RINVDSTNPI", Permanent, "Invalid Destination address NPI.";
    EsmeRinvsystyp = 0x0000_0053, "ESME_RINVSYSTYP", Permanent, "Invalid system_type field.";
    EsmeRinvrepflag = 0x0000_0054, "ESME_RINVREPFLAG", Permanent, "Invalid replace_if_present flag.";
    EsmeRinvnummsgs = 0x0000_0055, "ESME_RINVNUMMSGS", Permanent, "Invalid number of messages.";
    // Slow down and retry: the whole point of the status.
    EsmeRthrottled = 0x0000_0058, "ESME_RTHROTTLED", Transient, "Throttling error (ESME has exceeded allowed message limits).";
    EsmeRinvsched = 0x0000_0061, "ESME_RINVSCHED", Permanent, "Invalid Scheduled Delivery Time.";
    EsmeRinvexpiry = 0x0000_0062, "ESME_RINVEXPIRY", Permanent, "Invalid message validity period (Expiry time).";
    EsmeRinvdftmsgid = 0x0000_0063, "ESME_RINVDFTMSGID", Permanent, "Predefined Message Invalid or Not Found.";
    // "Temporary App Error": transient by definition.
    EsmeRxTAppn = 0x0000_0064, "ESME_RX_T_APPN", Transient, "ESME Receiver Temporary App Error Code.";
    EsmeRxPAppn = 0x0000_0065, "ESME_RX_P_APPN", Permanent, "ESME Receiver Permanent App Error Code.";
    EsmeRxRAppn = 0x0000_0066, "ESME_RX_R_APPN", Permanent, "ESME Receiver Reject Message Error Code.";
    EsmeRqueryfail = 0x0000_0067, "ESME_RQUERYFAIL", Permanent, "query_sm request failed.";
    EsmeRinvoptparstream = 0x0000_00C0, "ESME_RINVOPTPARSTREAM", Permanent, "Error in the optional part of the PDU Body.";
    EsmeRoptparnotallwd = 0x0000_00C1, "ESME_ROPTPARNOTALLWD", Permanent, "Optional Parameter not allowed.";
    EsmeRinvparlen = 0x0000_00C2, "ESME_RINVPARLEN", Permanent, "Invalid Parameter Length.";
    EsmeRmissingoptparam = 0x0000_00C3, "ESME_RMISSINGOPTPARAM", Permanent, "Expected Optional Parameter missing.";
    EsmeRinvoptparamval = 0x0000_00C4, "ESME_RINVOPTPARAMVAL", Permanent, "Invalid Optional Parameter Value.";
    // data_sm delivery to the MS failed; the SMSC may succeed on a later attempt.
    EsmeRdeliveryfailure = 0x0000_00FE, "ESME_RDELIVERYFAILURE", Transient, "Delivery Failure (used for data_sm_resp).";
    // Nothing is known, so the cautious reading is "try again later".
    EsmeRunknownerr = 0x0000_00FF, "ESME_RUNKNOWNERR", Transient, "Unknown Error.";
}

impl From<CommandStatus> for u32 {
    fn from(s: CommandStatus) -> u32 {
        s.value()
    }
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.spec_name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.value()),
            None => write!(f, "0x{:08X}", self.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_status_round_trips_through_its_value() {
        for v in 0u32..0x200 {
            let s = CommandStatus::from(v);
            assert_eq!(s.value(), v);
            assert_eq!(
                s.spec_name().is_none(),
                matches!(s, CommandStatus::Other(_))
            );
        }
    }

    #[test]
    fn classification_matches_the_documented_choices() {
        assert_eq!(CommandStatus::from(0).class(), StatusClass::Ok);
        assert_eq!(
            CommandStatus::EsmeRthrottled.class(),
            StatusClass::Transient
        );
        assert_eq!(CommandStatus::EsmeRmsgqful.class(), StatusClass::Transient);
        assert_eq!(CommandStatus::EsmeRsyserr.class(), StatusClass::Transient);
        assert_eq!(CommandStatus::EsmeRxTAppn.class(), StatusClass::Transient);
        assert_eq!(CommandStatus::EsmeRinvcmdlen.class(), StatusClass::Protocol);
        assert_eq!(CommandStatus::EsmeRinvbndsts.class(), StatusClass::Protocol);
        assert_eq!(
            CommandStatus::EsmeRinvdstadr.class(),
            StatusClass::Permanent
        );
        assert_eq!(CommandStatus::from(0x0400).class(), StatusClass::Permanent);
        assert_eq!(
            CommandStatus::from(0x58).spec_name(),
            Some("ESME_RTHROTTLED")
        );
    }
}
