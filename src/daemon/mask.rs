//! Masking personal data in message texts before they reach a debug log.
//!
//! Message texts are not logged by default. With `x-debug-mode = true` they are, and then any
//! payment card number in them is masked: a Luhn-valid run of 13–19 digits, written plain or in
//! groups separated by single spaces or dashes, becomes `****…` followed by its last four
//! digits. Runs that fail the Luhn check (order numbers, phone numbers) are left as they are,
//! because masking them would make the log useless for the support cases it exists for.

/// Returns `text` with every card number masked as `****…1234`.
pub(crate) fn mask_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A maximal run: digits, with single separators between digit groups.
        let start = i;
        let mut end = i;
        let mut digits = Vec::new();
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                digits.push(d as u8);
                j += 1;
                end = j;
            } else if (c == ' ' || c == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
                && j > start
                && chars[j - 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) && luhn_valid(&digits) {
            out.push_str("****…");
            for d in &digits[digits.len() - 4..] {
                out.push(char::from(b'0' + d));
            }
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
}

/// The Luhn (mod 10) check used by every payment card number.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_plain_spaced_and_dashed_cards() {
        assert_eq!(
            mask_card_numbers("card 4111111111111111 ok"),
            "card ****…1111 ok"
        );
        assert_eq!(
            mask_card_numbers("pay with 4111 1111 1111 1111."),
            "pay with ****…1111."
        );
        assert_eq!(mask_card_numbers("5500-0000-0000-0004"), "****…0004");
        // 13 and 19 digits, the bounds.
        assert_eq!(mask_card_numbers("4222222222222"), "****…2222");
        assert_eq!(
            mask_card_numbers("6011000990139424000"),
            "6011000990139424000"
        );
        assert_eq!(mask_card_numbers("4000000000000000006"), "****…0006");
    }

    #[test]
    fn leaves_non_cards_alone() {
        // Luhn-invalid, too short, too long, and a phone number.
        for s in [
            "4111111111111112",
            "411111111111",
            "41111111111111111111111",
            "+44 7700 900123",
            "order 12345",
            "",
        ] {
            assert_eq!(mask_card_numbers(s), s);
        }
    }

    #[test]
    fn double_separators_split_runs() {
        assert_eq!(
            mask_card_numbers("4111  1111 1111 1111"),
            "4111  1111 1111 1111"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_text_without_digits(s in "\\PC*") {
            let masked = mask_card_numbers(&s);
            if !s.chars().any(|c| c.is_ascii_digit()) {
                prop_assert_eq!(masked, s);
            }
        }

        #[test]
        fn any_valid_card_is_masked(body in proptest::collection::vec(0u8..10, 12..=18)) {
            // Complete `body` with the Luhn check digit and embed it in text.
            let check = (0u8..10).find(|c| {
                let mut d = body.clone();
                d.push(*c);
                luhn_valid(&d)
            }).unwrap();
            let number: String = body.iter().chain([check].iter()).map(|d| char::from(b'0' + d)).collect();
            let masked = mask_card_numbers(&format!("x {number} y"));
            prop_assert!(!masked.contains(&number));
            let expected_tail = format!("…{} y", &number[number.len() - 4..]);
            prop_assert!(masked.ends_with(&expected_tail), "{} -> {}", number, masked);
        }
    }
}
