//! Where registered contacts live. The registrar core talks to a [`LocationStore`]; the in-process
//! [`MemoryLocation`] serves a single node, and the shell persists the [`BindingChange`]s the registrar emits.

use std::collections::HashMap;

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The user part of the AOR (the extension).
    pub aor: String,
    /// The contact URI, as printed; the key within the AOR.
    pub contact_uri: String,
    /// The whole Contact value as received (URI and parameters such as `+sip.instance`).
    pub contact_value: String,
    pub expires_at_unix: i64,
    /// `q` × 1000 (1000 when the contact gave none).
    pub q_milli: i64,
    pub call_id: String,
    pub cseq: u32,
    /// The transport and source address it registered from (`udp:198.51.100.7:5060`).
    pub transport: String,
    pub source: String,
    pub user_agent: Option<String>,
}

/// A change the registrar made, for persistence or replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    Upsert(Binding),
    Remove { aor: String, contact_uri: String },
}

/// The registrar's view of live registrations. Synchronous on purpose: the registrar core is sans-IO.
pub trait LocationStore: Send {
    fn bindings(&self, aor: &str) -> &[Binding];
    fn replace(&mut self, aor: &str, bindings: Vec<Binding>);
    /// Every AOR with at least one binding.
    fn aors(&self) -> Vec<String>;
    fn binding_count(&self) -> usize;
}

#[derive(Debug, Default)]
pub struct MemoryLocation {
    by_aor: HashMap<String, Vec<Binding>>,
    count: usize,
}

impl LocationStore for MemoryLocation {
    fn bindings(&self, aor: &str) -> &[Binding] {
        self.by_aor.get(aor).map_or(&[], Vec::as_slice)
    }

    fn replace(&mut self, aor: &str, bindings: Vec<Binding>) {
        let old = if bindings.is_empty() {
            self.by_aor.remove(aor).map_or(0, |v| v.len())
        } else {
            let n = bindings.len();
            let old = self
                .by_aor
                .insert(aor.to_string(), bindings)
                .map_or(0, |v| v.len());
            self.count += n;
            old
        };
        self.count -= old;
    }

    fn aors(&self) -> Vec<String> {
        self.by_aor.keys().cloned().collect()
    }

    fn binding_count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(aor: &str, contact: &str, source: &str) -> Binding {
        Binding {
            aor: aor.into(),
            contact_uri: contact.into(),
            contact_value: format!("<{contact}>"),
            expires_at_unix: 0,
            q_milli: 1000,
            call_id: "c".into(),
            cseq: 1,
            transport: "udp".into(),
            source: source.into(),
            user_agent: None,
        }
    }

    #[test]
    fn the_binding_count_follows_registrations() {
        let mut loc = MemoryLocation::default();
        loc.replace("1001", vec![binding("1001", "sip:a@h", "10.0.0.1:5060")]);
        loc.replace(
            "1002",
            vec![
                binding("1002", "sip:b@h", "10.0.0.1:5060"),
                binding("1002", "sip:c@h", "10.0.0.2:5060"),
            ],
        );
        assert_eq!(loc.binding_count(), 3);
        loc.replace("1001", vec![binding("1001", "sip:a@h", "10.0.0.9:5060")]);
        assert_eq!(loc.binding_count(), 3);
        loc.replace("1002", Vec::new());
        assert_eq!(loc.binding_count(), 1);
        assert_eq!(loc.aors(), vec!["1001".to_string()]);
    }
}
