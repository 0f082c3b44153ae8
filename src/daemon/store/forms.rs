//! The forms an SMSC id is kept under in the receipt correlation, shared by every backend.
//!
//! A receipt may quote the id of submit_sm_resp exactly, case-folded without leading zeros,
//! or as a number in another radix ([`crate::sms::MessageIdKey::probes`]). Each id is kept
//! under `f:` its folded form always, and under `e:` its exact text only when folding changes
//! it (else the `f:` row, whose `smsc_id` is the exact text, answers exact probes). Values
//! need no rows of their own: an all-decimal id folds to its value in decimal, an all-hex id
//! to its value in hex, and [`probe`] looks those up through the `f:` rows.

use super::record::ReceiptMatch;
use crate::sms::{IdForm, MessageIdKey};

/// The forms `key` is stored under, as strings of their own.
pub(crate) fn stored_forms(key: &MessageIdKey) -> Vec<String> {
    StoredForms::default()
        .of(key.as_str())
        .map(str::to_string)
        .collect()
}

/// The forms of one SMSC id after another, written into buffers that are kept from one id
/// to the next, so that storing an id (the writer does it for nearly every message it
/// sends) needs neither a [`MessageIdKey`] (whose numeric forms are not stored) nor a
/// string per form.
#[derive(Debug, Default)]
pub(crate) struct StoredForms {
    exact: String,
    folded: String,
}

impl StoredForms {
    /// The forms `exact` (an id as [`MessageIdKey::exact_of`] leaves it) is stored under:
    /// `e:` and the exact text when folding changes it, then always `f:` and its folded
    /// form.
    pub(crate) fn of(&mut self, exact: &str) -> impl Iterator<Item = &str> {
        self.folded.clear();
        self.folded.push_str("f:");
        MessageIdKey::fold_into(exact, &mut self.folded);
        let changed = self.folded.get(2..) != Some(exact);
        self.exact.clear();
        if changed {
            self.exact.push_str("e:");
            self.exact.push_str(exact);
        }
        changed
            .then_some(self.exact.as_str())
            .into_iter()
            .chain(std::iter::once(self.folded.as_str()))
    }
}

/// One look-up of the correlation for a probe of a receipt's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// The stored form to find.
    pub form: String,
    /// Keep only rows whose exact `smsc_id` is this text.
    pub exact: Option<String>,
    /// Drop rows whose `smsc_id` starts with `0x` (a decimal probe must not find them).
    pub not_0x: bool,
}

/// The look-ups one probe needs (one or two).
pub(crate) fn probe(probe: &IdForm) -> Vec<Lookup> {
    let plain = |form: String| Lookup {
        form,
        exact: None,
        not_0x: false,
    };
    match probe {
        // Stored as `e:` when folding changes it, else only as `f:` (same text). An id that
        // folding leaves alone has no `e:` row, and neither has any id with the same exact
        // text: one probe is enough.
        IdForm::Exact(x) => {
            let mut found = Vec::with_capacity(2);
            if MessageIdKey::new(x).folded() != x.as_str() {
                found.push(plain(format!("e:{x}")));
            }
            found.push(Lookup {
                form: format!("f:{x}"),
                exact: Some(x.clone()),
                not_0x: false,
            });
            found
        }
        IdForm::Folded(y) => vec![plain(format!("f:{y}"))],
        // An all-decimal id's folded form is its value in decimal; an `0x` id's is not.
        IdForm::Decimal(n) => vec![Lookup {
            form: format!("f:{n}"),
            exact: None,
            not_0x: true,
        }],
        // An all-hex id folds to its value in lowercase hex without leading zeros, so the
        // `f:` rows with that text are exactly the ids with this hex value.
        IdForm::Hex(n) => vec![plain(format!("f:{n:x}"))],
    }
}

/// A submission a receipt's probes found: message key, segment index, SMSC id.
pub(crate) type Found = (i64, i64, String);

/// Adds the submissions one tier found, once each (by message and segment).
pub(crate) fn add_found(found: &mut Vec<Found>, more: impl IntoIterator<Item = Found>) {
    found.extend(more);
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
}

/// The one submission a receipt names among those its first fruitful tier found: the
/// newest when they all carry the same id (the SMSC reused it), else the answer that none
/// or several match.
pub(crate) fn pick(mut found: Vec<Found>) -> Result<Found, ReceiptMatch> {
    if found.len() > 1 && found.iter().all(|f| f.2 == found[0].2) {
        let newest = found.iter().max_by_key(|f| (f.0, f.1)).cloned();
        found = newest.into_iter().collect();
    }
    match found.len() {
        0 => Err(ReceiptMatch::NotFound),
        1 => Ok(found.remove(0)),
        _ => {
            let mut submit_ids: Vec<String> = found.into_iter().map(|f| f.2).collect();
            submit_ids.sort();
            Err(ReceiptMatch::Ambiguous { submit_ids })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{stored_forms, StoredForms};
    use crate::sms::MessageIdKey;
    use proptest::prelude::*;

    /// The forms as the module documentation states them, from the key's folded form.
    fn expected(id: &str) -> Vec<String> {
        let key = MessageIdKey::new(id);
        let mut forms = Vec::new();
        if key.as_str() != key.folded() {
            forms.push(format!("e:{}", key.as_str()));
        }
        forms.push(format!("f:{}", key.folded()));
        forms
    }

    proptest! {
        /// Any id, as an SMSC may send it, also when the buffers held a longer id before.
        #[test]
        fn any_id_is_stored_under_its_forms(
            id in "[ 0xX0-9a-fA-Fg-z\\-\\x00é]{0,24}",
            before in "[0-9a-z]{0,40}",
        ) {
            let mut forms = StoredForms::default();
            let _ = forms.of(&before).count();
            let from_buffers: Vec<String> = forms
                .of(MessageIdKey::exact_of(&id))
                .map(str::to_string)
                .collect();
            prop_assert_eq!(&from_buffers, &expected(&id));
            prop_assert_eq!(stored_forms(&MessageIdKey::new(&id)), from_buffers);
        }
    }

    #[test]
    fn ids_are_stored_under_these_forms() {
        let cases: [(&str, &[&str]); 10] = [
            ("abc", &["f:abc"]),
            ("ABC", &["e:ABC", "f:abc"]),
            ("007", &["e:007", "f:7"]),
            ("000", &["e:000", "f:0"]),
            ("0", &["f:0"]),
            ("0X00ff", &["e:0X00ff", "f:ff"]),
            ("0x", &["e:0x", "f:x"]),
            (" 12 ", &["f:12"]),
            ("00A-b", &["e:00A-b", "f:00a-b"]),
            ("", &["f:"]),
        ];
        let mut forms = StoredForms::default();
        for (id, want) in cases {
            let got: Vec<&str> = forms.of(MessageIdKey::exact_of(id)).collect();
            assert_eq!(got, want, "{id:?}");
        }
    }
}
