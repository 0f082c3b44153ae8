//! Matching the message id of a delivery receipt to the id the SMSC returned in
//! submit_sm_resp, when the two are not written alike.
//!
//! Many SMSCs return the id in one form and quote it in the receipt in another: hex in
//! submit_sm_resp and decimal in the receipt (or the reverse), with or without leading
//! zeros, in another letter case. This module matches in three tiers, most exact first,
//! and stops at the first tier that finds anything:
//!
//! 1. **Exact**: the same string (surrounding whitespace and NULs ignored).
//! 2. **Folded**: equal after ASCII lowercasing, dropping a `0x` prefix of a hex id, and
//!    stripping leading zeros of an alphanumeric id (`"000123"` = `"123"`,
//!    `"abcDEF"` = `"ABCDEF"`, UUIDs in either case).
//! 3. **Cross-radix**: one side all decimal digits, the other all hex digits, same
//!    number (`"1A2B3C"` = `"1715004"`). Each direction can be switched off when an SMSC
//!    is known not to do it.
//!
//! Two different submissions matching in the same tier is reported as
//! [`Lookup::Ambiguous`], never resolved by guessing: a receipt credited to the wrong
//! message is worse than one left unmatched.

use std::collections::HashMap;

/// One form under which an id can be found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdForm {
    /// The id as written (trimmed).
    Exact(String),
    /// Lowercased, `0x` dropped, leading zeros stripped.
    Folded(String),
    /// The value of an all-decimal id.
    Decimal(u128),
    /// The value of an all-hex id.
    Hex(u128),
}

/// The forms of one id, computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdKey {
    exact: String,
    folded: String,
    decimal: Option<u128>,
    hex: Option<u128>,
}

impl MessageIdKey {
    /// The exact form of `id`: without the white space and NULs around it.
    pub fn exact_of(id: &str) -> &str {
        id.trim_matches(|c: char| c.is_whitespace() || c == '\0')
    }

    /// The hex digits after a `0x` prefix of `exact`, when that is all it holds.
    fn hex_digits(exact: &str) -> Option<&str> {
        exact
            .strip_prefix("0x")
            .or_else(|| exact.strip_prefix("0X"))
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// Appends the folded form of `exact` (an id as [`MessageIdKey::exact_of`] leaves it) to
    /// `out`: what [`MessageIdKey::folded`] returns, without computing the other forms.
    pub fn fold_into(exact: &str, out: &mut String) {
        let body = MessageIdKey::hex_digits(exact).unwrap_or(exact);
        let mut kept = body;
        if body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            let zeros = body.bytes().take_while(|&b| b == b'0').count();
            // Keep one zero of an all-zero id so it does not fold to "".
            let zeros = zeros.min(body.len().saturating_sub(1));
            kept = body.get(zeros..).unwrap_or(body);
        }
        let from = out.len();
        out.push_str(kept);
        if let Some(added) = out.get_mut(from..) {
            added.make_ascii_lowercase();
        }
    }

    /// Computes the forms of `id`.
    pub fn new(id: &str) -> MessageIdKey {
        let exact = MessageIdKey::exact_of(id);
        let digits = MessageIdKey::hex_digits(exact);
        let body = digits.unwrap_or(exact);
        let mut folded = String::with_capacity(body.len());
        MessageIdKey::fold_into(exact, &mut folded);
        let all = |f: fn(&u8) -> bool| !body.is_empty() && body.bytes().all(|b| f(&b));
        let decimal = (digits.is_none() && all(u8::is_ascii_digit))
            .then(|| body.parse::<u128>().ok())
            .flatten();
        let hex = all(u8::is_ascii_hexdigit)
            .then(|| u128::from_str_radix(body, 16).ok())
            .flatten();
        MessageIdKey {
            exact: exact.to_owned(),
            folded,
            decimal,
            hex,
        }
    }

    /// The id as written, trimmed.
    pub fn as_str(&self) -> &str {
        &self.exact
    }

    /// The id folded: lowercased, `0x` dropped, leading zeros stripped.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// Every form of this id, as it is stored in an index.
    pub fn forms(&self) -> Vec<IdForm> {
        let mut forms = vec![
            IdForm::Exact(self.exact.clone()),
            IdForm::Folded(self.folded.clone()),
        ];
        forms.extend(self.decimal.map(IdForm::Decimal));
        forms.extend(self.hex.map(IdForm::Hex));
        forms
    }

    /// The forms under which a submission with this id would be found in `tier`, when
    /// this is the receipt's id.
    pub fn probes(&self, tier: MatchRule, rules: MatchRules) -> Vec<IdForm> {
        match tier {
            MatchRule::Exact => vec![IdForm::Exact(self.exact.clone())],
            MatchRule::Folded => vec![IdForm::Folded(self.folded.clone())],
            MatchRule::CrossRadix => {
                let mut probes = Vec::new();
                if rules.submit_hex_receipt_decimal {
                    probes.extend(self.decimal.map(IdForm::Hex));
                }
                if rules.submit_decimal_receipt_hex {
                    probes.extend(self.hex.map(IdForm::Decimal));
                }
                probes
            }
        }
    }
}

/// Which tier matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchRule {
    /// Same string.
    Exact,
    /// Same after folding case, `0x` and leading zeros.
    Folded,
    /// Same number, one side hex and the other decimal.
    CrossRadix,
}

impl MatchRule {
    /// The tiers, most exact first: a lookup stops at the first that finds anything.
    pub const TIERS: [MatchRule; 3] = [MatchRule::Exact, MatchRule::Folded, MatchRule::CrossRadix];
}

/// Which cross-radix directions to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchRules {
    /// submit_sm_resp in hex, receipt in decimal (the common case).
    pub submit_hex_receipt_decimal: bool,
    /// submit_sm_resp in decimal, receipt in hex.
    pub submit_decimal_receipt_hex: bool,
}

impl Default for MatchRules {
    /// Both directions on.
    fn default() -> Self {
        MatchRules {
            submit_hex_receipt_decimal: true,
            submit_decimal_receipt_hex: true,
        }
    }
}

/// The outcome of looking up a receipt's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Exactly one submission matched.
    Found {
        /// Its id as submit_sm_resp gave it.
        submit_id: String,
        /// What was stored with it.
        value: T,
        /// The tier that matched.
        rule: MatchRule,
    },
    /// Several submissions matched in the same tier; nothing was taken.
    Ambiguous {
        /// The tier.
        rule: MatchRule,
        /// Their ids, sorted.
        submit_ids: Vec<String>,
    },
    /// No submission matched.
    NotFound,
}

#[derive(Debug)]
struct Entry<V> {
    key: MessageIdKey,
    value: V,
}

/// Submitted messages awaiting their receipts, found by a receipt's id under the rules of
/// this module.
#[derive(Debug)]
pub struct MessageIdIndex<V> {
    rules: MatchRules,
    entries: HashMap<u64, Entry<V>>,
    by_form: HashMap<IdForm, Vec<u64>>,
    next: u64,
}

impl<V> Default for MessageIdIndex<V> {
    fn default() -> Self {
        MessageIdIndex::new(MatchRules::default())
    }
}

impl<V> MessageIdIndex<V> {
    /// An empty index.
    pub fn new(rules: MatchRules) -> MessageIdIndex<V> {
        MessageIdIndex {
            rules,
            entries: HashMap::new(),
            by_form: HashMap::new(),
            next: 0,
        }
    }

    /// Submissions held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a submission under every form of its id. An entry with the exact same id
    /// is replaced and its value returned (the SMSC reused the id).
    pub fn insert(&mut self, submit_id: &str, value: V) -> Option<V> {
        let key = MessageIdKey::new(submit_id);
        let old = self.take_exact(&key.exact);
        let slot = self.next;
        self.next += 1;
        for form in key.forms() {
            self.by_form.entry(form).or_default().push(slot);
        }
        self.entries.insert(slot, Entry { key, value });
        old
    }

    /// Removes the submission with exactly this id (e.g. when its receipt is overdue).
    pub fn remove_submit(&mut self, submit_id: &str) -> Option<V> {
        self.take_exact(MessageIdKey::new(submit_id).as_str())
    }

    fn take_exact(&mut self, exact: &str) -> Option<V> {
        let slot = *self
            .by_form
            .get(&IdForm::Exact(exact.to_owned()))?
            .first()?;
        self.take_slot(slot).map(|(_, v)| v)
    }

    fn take_slot(&mut self, slot: u64) -> Option<(String, V)> {
        let entry = self.entries.remove(&slot)?;
        for form in entry.key.forms() {
            if let Some(slots) = self.by_form.get_mut(&form) {
                slots.retain(|&s| s != slot);
                if slots.is_empty() {
                    self.by_form.remove(&form);
                }
            }
        }
        Some((entry.key.exact, entry.value))
    }

    /// The tier and the distinct slots that match `receipt_id` there.
    fn find(&self, receipt_id: &str) -> Option<(MatchRule, Vec<u64>)> {
        let key = MessageIdKey::new(receipt_id);
        for tier in MatchRule::TIERS {
            let mut slots: Vec<u64> = key
                .probes(tier, self.rules)
                .iter()
                .filter_map(|form| self.by_form.get(form))
                .flatten()
                .copied()
                .collect();
            slots.sort_unstable();
            slots.dedup();
            if !slots.is_empty() {
                return Some((tier, slots));
            }
        }
        None
    }

    fn ambiguous<T>(&self, rule: MatchRule, slots: &[u64]) -> Lookup<T> {
        let mut submit_ids: Vec<String> = slots
            .iter()
            .filter_map(|s| self.entries.get(s))
            .map(|e| e.key.exact.clone())
            .collect();
        submit_ids.sort();
        Lookup::Ambiguous { rule, submit_ids }
    }

    /// Finds the submission a receipt's id refers to, leaving it in the index.
    pub fn get(&self, receipt_id: &str) -> Lookup<&V> {
        match self.find(receipt_id) {
            None => Lookup::NotFound,
            Some((rule, slots)) => match slots.as_slice() {
                [slot] => match self.entries.get(slot) {
                    Some(e) => Lookup::Found {
                        submit_id: e.key.exact.clone(),
                        value: &e.value,
                        rule,
                    },
                    None => Lookup::NotFound,
                },
                _ => self.ambiguous(rule, &slots),
            },
        }
    }

    /// Finds and removes the submission a receipt's id refers to. Nothing is removed when
    /// the match is ambiguous.
    pub fn remove(&mut self, receipt_id: &str) -> Lookup<V> {
        match self.find(receipt_id) {
            None => Lookup::NotFound,
            Some((rule, slots)) => match slots.as_slice() {
                [slot] => match self.take_slot(*slot) {
                    Some((submit_id, value)) => Lookup::Found {
                        submit_id,
                        value,
                        rule,
                    },
                    None => Lookup::NotFound,
                },
                _ => self.ambiguous(rule, &slots),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_alone_gives_the_key_s_folded_form() {
        for id in [
            "ABC", "007", "0", "00", "0x0A", "0X", "0xG1", "A-0B", "ÄB", "x0", "0é",
        ] {
            let mut out = String::from("prefix:");
            MessageIdKey::fold_into(id, &mut out);
            assert_eq!(
                out.strip_prefix("prefix:"),
                Some(MessageIdKey::new(id).folded()),
                "{id:?}"
            );
        }
    }

    fn found<V: Copy>(index: &MessageIdIndex<V>, receipt: &str) -> Option<(V, MatchRule)> {
        match index.get(receipt) {
            Lookup::Found { value, rule, .. } => Some((*value, rule)),
            _ => None,
        }
    }

    #[test]
    fn hex_submit_matches_decimal_receipt() {
        let mut index = MessageIdIndex::default();
        index.insert("1A2B3C", 1);
        assert_eq!(found(&index, "1715004"), Some((1, MatchRule::CrossRadix)));
        assert_eq!(found(&index, "0x1a2b3c"), Some((1, MatchRule::Folded)));
    }

    #[test]
    fn decimal_submit_matches_hex_receipt_unless_disabled() {
        let mut index = MessageIdIndex::default();
        index.insert("1715004", 'a');
        assert_eq!(
            found(&index, "001A2B3C"),
            Some(('a', MatchRule::CrossRadix))
        );
        let mut strict = MessageIdIndex::new(MatchRules {
            submit_hex_receipt_decimal: true,
            submit_decimal_receipt_hex: false,
        });
        strict.insert("1715004", 'a');
        assert_eq!(strict.get("1A2B3C"), Lookup::NotFound);
    }

    #[test]
    fn leading_zeros_and_case_fold() {
        let mut index = MessageIdIndex::default();
        index.insert("000123", 1);
        index.insert("abcDEF", 2);
        assert_eq!(found(&index, "123"), Some((1, MatchRule::Folded)));
        assert_eq!(found(&index, "ABCDEF"), Some((2, MatchRule::Folded)));
        assert_eq!(found(&index, "abcDEF"), Some((2, MatchRule::Exact)));
    }

    #[test]
    fn uuid_ids_match_in_either_case() {
        let mut index = MessageIdIndex::default();
        index.insert("550e8400-e29b-41d4-a716-446655440000", 7);
        assert_eq!(
            found(&index, "550E8400-E29B-41D4-A716-446655440000\0"),
            Some((7, MatchRule::Folded))
        );
        assert_eq!(
            index.get("550e8400-e29b-41d4-a716-446655440001"),
            Lookup::NotFound
        );
    }

    #[test]
    fn exact_match_wins_over_a_looser_one() {
        let mut index = MessageIdIndex::default();
        index.insert("10", 'd');
        index.insert("16", 'x');
        // "16" is also hex of 22 and decimal 16 = hex "10": the exact tier decides.
        assert_eq!(found(&index, "16"), Some(('x', MatchRule::Exact)));
        assert_eq!(found(&index, "10"), Some(('d', MatchRule::Exact)));
    }

    #[test]
    fn collisions_are_reported_not_guessed() {
        let mut index = MessageIdIndex::default();
        index.insert("0123", 1);
        index.insert("00123", 2);
        assert_eq!(
            index.remove("123"),
            Lookup::Ambiguous {
                rule: MatchRule::Folded,
                submit_ids: vec!["00123".into(), "0123".into()]
            }
        );
        assert_eq!(index.len(), 2, "nothing removed on ambiguity");
        // Receipt "10" is decimal 10 = submit hex "A", and hex 0x10 = submit decimal "16".
        index.insert("A", 3);
        index.insert("0000000016", 4);
        assert!(matches!(
            index.get("10"),
            Lookup::Ambiguous {
                rule: MatchRule::CrossRadix,
                ..
            }
        ));
    }

    #[test]
    fn remove_takes_the_entry_and_all_its_forms() {
        let mut index = MessageIdIndex::default();
        index.insert("FF", "x");
        assert_eq!(
            index.remove("255"),
            Lookup::Found {
                submit_id: "FF".into(),
                value: "x",
                rule: MatchRule::CrossRadix
            }
        );
        assert!(index.is_empty());
        assert_eq!(index.get("ff"), Lookup::NotFound);
        assert!(index.by_form.is_empty());
        assert_eq!(index.insert("a", "1"), None);
        assert_eq!(index.insert("a", "2"), Some("1"));
        assert_eq!(index.remove_submit("a"), Some("2"));
    }
}
