//! Where calls go: the municipality's public numbers (inbound) and what staff dial (internal and outbound).

use std::collections::BTreeMap;

use super::{check, Denied, Dialled, NumberClass, OutboundPermission, PublicNumber, E164};

/// Where a call is delivered inside Switchboard. Ids refer to rows the admin API manages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A staff member, by username.
    User(String),
    HuntGroup(u64),
    Queue(u64),
    /// An interactive voice menu.
    Menu(u64),
    /// Out again through a trunk (call forwarding of a public number).
    Trunk(u64),
    /// Play the named prompt and hang up.
    Message(String),
}

/// What call control should do with a call a staff member placed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteDecision {
    /// Deliver inside Switchboard.
    Local(Target),
    /// Send out through a trunk; which trunk is call control's choice. An `emergency` call must go out even
    /// when the user is otherwise barred, and call control should present a number the emergency centre
    /// can call back.
    ToTrunk {
        number: PublicNumber,
        class: NumberClass,
        emergency: bool,
    },
    /// An extension that no user has (SIP 404).
    NoSuchExtension(String),
    Denied(Denied),
}

/// The inbound table: which target each of the municipality's public numbers reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberPlan {
    pub entries: BTreeMap<E164, Target>,
}

impl NumberPlan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the target of `number`; returns the one it replaced.
    pub fn insert(&mut self, number: E164, target: Target) -> Option<Target> {
        self.entries.insert(number, target)
    }

    /// The target of a call to one of our public numbers, or `None` if the number is not ours (call control
    /// answers 404; the carrier sent a number it should not have).
    pub fn route_inbound(&self, called: &E164) -> Option<Target> {
        self.entries.get(called).cloned()
    }

    /// Routes a call a staff member placed. `find_user` maps an extension to the username that has it.
    ///
    /// A staff member who dials one of the municipality's own public numbers reaches its target directly,
    /// as an internal call: out through the trunk and back in would cost two channels and the carrier's
    /// fees, and the call would need the external permission for a number inside the house.
    pub fn route_internal(
        &self,
        dialled: &Dialled,
        permission: &OutboundPermission,
        find_user: impl FnOnce(&str) -> Option<String>,
    ) -> RouteDecision {
        match dialled {
            Dialled::Invalid(reason) => RouteDecision::Denied(Denied::Invalid(*reason)),
            Dialled::Extension(extension) => {
                if let Err(denied) = check(dialled, permission) {
                    return RouteDecision::Denied(denied);
                }
                match find_user(extension) {
                    Some(user) => RouteDecision::Local(Target::User(user)),
                    None => RouteDecision::NoSuchExtension(extension.clone()),
                }
            }
            Dialled::Public { class, number } => {
                let emergency = *class == NumberClass::Emergency;
                if let (false, PublicNumber::E164(e164)) = (emergency, number) {
                    if let Some(target) = self.entries.get(e164) {
                        return if permission.internal {
                            RouteDecision::Local(target.clone())
                        } else {
                            RouteDecision::Denied(Denied::NotAllowed(NumberClass::Extension))
                        };
                    }
                }
                match check(dialled, permission) {
                    Ok(()) => RouteDecision::ToTrunk {
                        number: number.clone(),
                        class: *class,
                        emergency,
                    },
                    Err(denied) => RouteDecision::Denied(denied),
                }
            }
        }
    }
}
