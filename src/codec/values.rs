//! Value enums for single-octet fields (SMPP 3.4 §5.2): type_of_number, numbering_plan_indicator,
//! data_coding and message_state, plus the esm_class bit field. Every enum keeps an `Other(..)`
//! arm so that vendor values survive a decode/encode round trip unchanged.

/// Declares a value enum over an integer type with named variants and an `Other(..)` arm.
///
/// A macro rather than hand-written enums because command_id, command_status, TLV tags and the
/// octet values all need the same four conversions, and a typo in one of them would break the
/// round trip silently.
macro_rules! value_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $spec:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value the specification does not name (vendor extension or newer version),
            /// kept as received.
            Other($repr),
        }

        impl $name {
            /// The wire value.
            pub const fn value(self) -> $repr {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Other(v) => v,
                }
            }

            /// The name the SMPP 3.4 specification uses, or `None` for `Other`.
            pub const fn spec_name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($spec), )*
                    $name::Other(_) => None,
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v.value()
            }
        }
    };
}
pub(crate) use value_enum;

value_enum! {
    /// type_of_number (TON), SMPP 3.4 §5.2.5.
    pub enum Ton: u8 {
        /// Unknown.
        Unknown = 0x00 => "Unknown",
        /// International (number with country code).
        International = 0x01 => "International",
        /// National.
        National = 0x02 => "National",
        /// Network specific.
        NetworkSpecific = 0x03 => "Network Specific",
        /// Subscriber number.
        SubscriberNumber = 0x04 => "Subscriber Number",
        /// Alphanumeric sender id.
        Alphanumeric = 0x05 => "Alphanumeric",
        /// Abbreviated (short code).
        Abbreviated = 0x06 => "Abbreviated",
    }
}

value_enum! {
    /// numbering_plan_indicator (NPI), SMPP 3.4 §5.2.6.
    pub enum Npi: u8 {
        /// Unknown.
        Unknown = 0x00 => "Unknown",
        /// ISDN (E.163/E.164).
        Isdn = 0x01 => "ISDN (E163/E164)",
        /// Data (X.121).
        Data = 0x03 => "Data (X.121)",
        /// Telex (F.69).
        Telex = 0x04 => "Telex (F.69)",
        /// Land mobile (E.212).
        LandMobile = 0x06 => "Land Mobile (E.212)",
        /// National.
        National = 0x08 => "National",
        /// Private.
        Private = 0x09 => "Private",
        /// ERMES.
        Ermes = 0x0A => "ERMES",
        /// Internet (IP).
        Internet = 0x0E => "Internet (IP)",
        /// WAP client id.
        WapClientId = 0x12 => "WAP Client Id",
    }
}

value_enum! {
    /// data_coding, SMPP 3.4 §5.2.19. The text codings themselves live in `sms`; the codec
    /// only names the value.
    pub enum DataCoding: u8 {
        /// SMSC default alphabet (usually GSM 03.38).
        SmscDefault = 0x00 => "SMSC Default Alphabet",
        /// IA5 (CCITT T.50) / ASCII.
        Ia5 = 0x01 => "IA5 (CCITT T.50)/ASCII",
        /// 8-bit binary.
        Binary = 0x02 => "Octet unspecified (8-bit binary)",
        /// Latin-1 (ISO-8859-1).
        Latin1 = 0x03 => "Latin 1 (ISO-8859-1)",
        /// 8-bit binary.
        Binary8 = 0x04 => "Octet unspecified (8-bit binary)",
        /// JIS (X 0208-1990).
        Jis = 0x05 => "JIS (X 0208-1990)",
        /// Cyrillic (ISO-8859-5).
        Cyrillic = 0x06 => "Cyrillic (ISO-8859-5)",
        /// Latin/Hebrew (ISO-8859-8).
        LatinHebrew = 0x07 => "Latin/Hebrew (ISO-8859-8)",
        /// UCS-2 (ISO/IEC-10646).
        Ucs2 = 0x08 => "UCS2 (ISO/IEC-10646)",
        /// Pictogram encoding.
        Pictogram = 0x09 => "Pictogram Encoding",
        /// ISO-2022-JP (music codes).
        Iso2022Jp = 0x0A => "ISO-2022-JP (Music Codes)",
        /// Extended Kanji JIS (X 0212-1990).
        ExtendedKanjiJis = 0x0D => "Extended Kanji JIS(X 0212-1990)",
        /// KS C 5601.
        Ksc5601 = 0x0E => "KS C 5601",
    }
}

value_enum! {
    /// message_state, SMPP 3.4 §5.2.28: where a submitted message stands, as query_sm_resp
    /// and the message_state TLV of a delivery receipt report it. Values outside 1-8 (0
    /// SCHEDULED and 9 SKIPPED arrived with SMPP 5.0) stay `Other`.
    pub enum MessageState: u8 {
        /// The message is in enroute state.
        Enroute = 1 => "ENROUTE",
        /// The message was delivered to its destination.
        Delivered = 2 => "DELIVERED",
        /// The validity period passed.
        Expired = 3 => "EXPIRED",
        /// The message was deleted.
        Deleted = 4 => "DELETED",
        /// The message cannot be delivered.
        Undeliverable = 5 => "UNDELIVERABLE",
        /// Accepted on the subscriber's behalf (read by customer services, for example).
        Accepted = 6 => "ACCEPTED",
        /// The message is in an invalid state.
        Unknown = 7 => "UNKNOWN",
        /// The message was rejected.
        Rejected = 8 => "REJECTED",
    }
}

/// esm_class (SMPP 3.4 §5.2.12): messaging mode (bits 1-0), message type (bits 5-2) and GSM
/// network features (bits 7-6). Kept as the raw octet so that every value round-trips; the
/// accessors name the bits an ESME acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EsmClass(pub u8);

impl EsmClass {
    /// Message type "SMSC Delivery Receipt" (xx0001xx), set on deliver_sm receipts.
    pub const DELIVERY_RECEIPT: u8 = 0x04;

    /// Message type, bits 5-2 (0 default, 1 delivery receipt, 2 delivery ack, 4 manual ack,
    /// 6 conversation abort, 8 intermediate notification).
    pub const fn message_type(self) -> u8 {
        (self.0 >> 2) & 0x0F
    }

    /// True when the PDU is an SMSC delivery receipt (message type 1).
    pub const fn is_delivery_receipt(self) -> bool {
        self.message_type() == 1
    }
}

impl Default for Ton {
    /// Unknown (0), the value the specification uses for "not specified".
    fn default() -> Self {
        Ton::Unknown
    }
}

impl Default for Npi {
    /// Unknown (0).
    fn default() -> Self {
        Npi::Unknown
    }
}

impl Default for DataCoding {
    /// SMSC default alphabet (0).
    fn default() -> Self {
        DataCoding::SmscDefault
    }
}
