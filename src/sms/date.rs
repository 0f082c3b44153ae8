//! The dates SMPP writes: `YYMMDDhhmm` in receipt texts (SMPP 3.4 Appendix B) and
//! `YYMMDDhhmmss000+` absolute times (§7.1.1), in UTC, and the civil-date arithmetic behind
//! them (Howard Hinnant's algorithms: no date crate for a few format strings).

use std::time::{SystemTime, UNIX_EPOCH};

/// `t` as `YYMMDDhhmm` in UTC. Times before 1970 print as 1970.
pub(crate) fn yymmddhhmm(t: SystemTime) -> String {
    date_digits(t).iter().map(|&d| char::from(d)).collect()
}

/// `t` as an SMPP absolute time in UTC, `YYMMDDhhmmss000+` (tenths 0, offset 00 and `+`).
pub(crate) fn smpp_absolute_time(t: SystemTime) -> String {
    let secs = seconds(t);
    let mut out = yymmddhhmm(t);
    let s = secs % 60;
    out.push(char::from(b'0' + (s / 10) as u8));
    out.push(char::from(b'0' + (s % 10) as u8));
    out.push_str("000+");
    out
}

/// `YYMMDDhhmm` of `t` as ASCII digits.
pub(crate) fn date_digits(t: SystemTime) -> [u8; 10] {
    let secs = seconds(t);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = [0u8; 10];
    for (i, v) in [y % 100, m, d, rem / 3600, (rem % 3600) / 60]
        .into_iter()
        .enumerate()
    {
        // Every value is below 100.
        out[2 * i] = b'0' + (v / 10 % 10) as u8;
        out[2 * i + 1] = b'0' + (v % 10) as u8;
    }
    out
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The date (year, month, day) of day `days` after 1970-01-01.
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days after 1970-01-01 of a proleptic Gregorian date; `None` for a month or day out of
/// range.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc() {
        // 2026-11-25 11:56:00 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_607_760);
        assert_eq!(yymmddhhmm(t), "2611251156");
        assert_eq!(yymmddhhmm(UNIX_EPOCH), "7001010000");
        // Leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(yymmddhhmm(leap), "0002290000");
        let at = UNIX_EPOCH + Duration::from_secs(1_893_456_000 + 3723);
        assert_eq!(smpp_absolute_time(at), "300101010203000+");
    }

    #[test]
    fn days_and_dates_are_inverse() {
        for days in [0u64, 59, 60, 10_956, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                days_from_civil(y as i64, m as i64, d as i64),
                Some(days as i64)
            );
        }
        assert_eq!(days_from_civil(2020, 13, 1), None);
    }
}
