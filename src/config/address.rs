//! The two address types of `[smpp-user-NAME]`: [`IpNetwork`] (`allowed-ips`, who may
//! connect) and [`AddressRange`] (`address-ranges`, which inbound messages a user receives).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length (`203.0.113.0/24`,
/// `2001:db8::/32`); a bare address is a network of one (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    /// The network's first address: every bit after the prefix is zero.
    address: IpAddr,
    /// The prefix length: 0-32 for IPv4, 0-128 for IPv6.
    prefix: u8,
}

/// Why a string is not an [`IpNetwork`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetworkError {
    /// Not an address, or an address and `/` and a number.
    #[error("an IPv4 or IPv6 address, or a network such as 203.0.113.0/24 or 2001:db8::/32")]
    Syntax,
    /// A prefix length beyond the address's bits.
    #[error("a prefix length of at most {max} for this address family")]
    PrefixTooLong {
        /// 32 or 128.
        max: u8,
    },
    /// Bits set after the prefix: the network meant is unclear.
    #[error("a network address with no bits set after the prefix, such as {suggested}")]
    HostBits {
        /// The network with those bits cleared.
        suggested: IpNetwork,
    },
}

impl IpNetwork {
    /// The network of `address` and `prefix`, refused when `prefix` is beyond the address's
    /// bits or `address` has bits set after it.
    pub fn new(address: IpAddr, prefix: u8) -> Result<IpNetwork, IpNetworkError> {
        let bits = bits_of(address);
        if prefix > bits {
            return Err(IpNetworkError::PrefixTooLong { max: bits });
        }
        let network = IpNetwork {
            address: masked(address, prefix),
            prefix,
        };
        if network.address != address {
            return Err(IpNetworkError::HostBits { suggested: network });
        }
        Ok(network)
    }

    /// Whether `ip` is in this network. An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`,
    /// as a listener on `[::]` reports IPv4 clients) counts as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        bits_of(ip) == bits_of(self.address) && masked(ip, self.prefix) == self.address
    }

    /// The network's first address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

fn bits_of(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `address` with every bit after the first `prefix` cleared.
fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl FromStr for IpNetwork {
    type Err = IpNetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| IpNetworkError::Syntax)?;
        let prefix = match prefix {
            // Digits only: `u8::from_str` would take "+24".
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| IpNetworkError::Syntax)?
            }
            Some(_) => return Err(IpNetworkError::Syntax),
            None => bits_of(address),
        };
        IpNetwork::new(address, prefix)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The most digits of an address range: an SMPP address holds 20 characters, and a range
/// one more lets an operator write a full E.164 number with its country code and a spare.
pub const MAX_RANGE_DIGITS: usize = 21;

/// One entry of `address-ranges`: destination addresses whose inbound messages go to a user.
///
/// `+31699887766` matches exactly that number; `3169988*` matches every number that starts
/// with those digits. A leading `+` is ignored, in the range and in the address matched. When
/// several ranges match an address, the best wins: an exact range beats a prefix, and a
/// longer prefix beats a shorter one (see [`user_for_address`](super::user_for_address)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressRange {
    /// The digits, without `+` or `*`.
    digits: String,
    /// Whether the range ended in `*`.
    prefix: bool,
}

/// Why a string is not an [`AddressRange`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "1-{MAX_RANGE_DIGITS} digits with an optional leading + and an optional trailing * \
     (a prefix), such as +31699887766 or 3169988*"
)]
pub struct AddressRangeError;

impl AddressRange {
    /// How many digits of `address` this range matches, `None` when it does not match.
    ///
    /// An exact range matches only the whole address; a prefix range its first digits. An
    /// address with anything but digits after an optional `+` (an alphanumeric sender, say)
    /// matches no range.
    pub fn matches(&self, address: &str) -> Option<usize> {
        let address = address.strip_prefix('+').unwrap_or(address);
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hit = if self.prefix {
            address.starts_with(&self.digits)
        } else {
            address == self.digits
        };
        hit.then_some(self.digits.len())
    }

    /// Whether the range is a prefix (it ended in `*`).
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }

    /// The digits, without `+` or `*`.
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl FromStr for AddressRange {
    type Err = AddressRangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text.strip_prefix('+').unwrap_or(text);
        let (digits, prefix) = match rest.strip_suffix('*') {
            Some(digits) => (digits, true),
            None => (rest, false),
        };
        let valid = (1..=MAX_RANGE_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(AddressRangeError);
        }
        Ok(AddressRange {
            digits: digits.to_string(),
            prefix,
        })
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.digits, if self.prefix { "*" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNetwork {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses() {
        let v4 = net("203.0.113.0/24");
        assert!(v4.contains(ip("203.0.113.0")));
        assert!(v4.contains(ip("203.0.113.255")));
        assert!(!v4.contains(ip("203.0.114.1")));
        assert!(v4.contains(ip("::ffff:203.0.113.7")), "IPv4-mapped");
        assert!(!v4.contains(ip("2001:db8::1")));
        let one = net("192.0.2.10");
        assert_eq!(one.to_string(), "192.0.2.10/32");
        assert!(one.contains(ip("192.0.2.10")) && !one.contains(ip("192.0.2.11")));
        assert!(net("0.0.0.0/0").contains(ip("198.51.100.1")));
        let v6 = net("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("203.0.113.1")));
        assert!(net("::/0").contains(ip("::1")));
    }

    #[test]
    fn malformed_networks_are_refused() {
        for text in [
            "",
            "example.net",
            "203.0.113.0/",
            "203.0.113.0/+8",
            "1.2.3.4/x",
        ] {
            assert_eq!(
                text.parse::<IpNetwork>(),
                Err(IpNetworkError::Syntax),
                "{text}"
            );
        }
        assert_eq!(
            "203.0.113.0/33".parse::<IpNetwork>(),
            Err(IpNetworkError::PrefixTooLong { max: 32 })
        );
        assert_eq!(
            "2001:db8::/129".parse::<IpNetwork>(),
            Err(IpNetworkError::PrefixTooLong { max: 128 })
        );
        let e = "203.0.113.5/24".parse::<IpNetwork>().unwrap_err();
        assert_eq!(
            e,
            IpNetworkError::HostBits {
                suggested: net("203.0.113.0/24")
            }
        );
        assert!(e.to_string().contains("203.0.113.0/24"), "{e}");
    }

    #[test]
    fn ranges_match_exactly_or_by_prefix() {
        let exact: AddressRange = "+31699887766".parse().unwrap();
        assert_eq!(exact.matches("31699887766"), Some(11));
        assert_eq!(exact.matches("+31699887766"), Some(11));
        assert_eq!(exact.matches("316998877661"), None);
        assert_eq!(exact.matches("3169988776"), None);
        let prefix: AddressRange = "3169988*".parse().unwrap();
        assert!(prefix.is_prefix() && !exact.is_prefix());
        assert_eq!(prefix.matches("+31699887766"), Some(7));
        assert_eq!(prefix.matches("3169988"), Some(7));
        assert_eq!(prefix.matches("316998"), None);
        assert_eq!(prefix.matches("3169988ABC"), None, "digits only");
        assert_eq!(prefix.matches(""), None);
        assert_eq!(prefix.to_string(), "3169988*");
        assert_eq!(exact.to_string(), "31699887766");
        assert_eq!(
            "+3169988*".parse::<AddressRange>().unwrap(),
            prefix,
            "+ is ignored"
        );
    }

    #[test]
    fn malformed_ranges_are_refused() {
        let longest = "1".repeat(MAX_RANGE_DIGITS);
        assert!(longest.parse::<AddressRange>().is_ok());
        for text in [
            "",
            "+",
            "*",
            "+*",
            "31 6",
            "31*6",
            "31**",
            "++31",
            "abc",
            &format!("{longest}1"),
        ] {
            assert_eq!(
                text.parse::<AddressRange>(),
                Err(AddressRangeError),
                "{text}"
            );
        }
    }
}
