//! A menu's configuration, its validation, and its JSON form for the admin API.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::numbers::Target;
use crate::RoutingError;

/// How long the menu waits for a key after its prompt ends.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many failed tries (invalid key or no key) a caller gets before the menu gives up.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// How long extension dialling waits for the next digit.
pub const DEFAULT_INTER_DIGIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Upper bound on `max_attempts`: beyond it a silent line would be held for minutes.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;

/// Longest extension a caller may key.
pub const MAX_EXTENSION_DIGITS: u8 = 16;

/// Longest wait a menu may be configured with; longer ones are typos (milliseconds taken for seconds).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The keys a caller can press on a telephone keypad.
pub const KEYS: [char; 12] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

/// What a key does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuChoice {
    /// Route the call; [`Target::Menu`] nests another menu.
    Target(Target),
    /// Ask for an extension and hand the digits to call control.
    DialExtension,
    /// Play the menu prompt again (does not count as a failed try).
    Repeat,
}

impl From<Target> for MenuChoice {
    fn from(target: Target) -> Self {
        MenuChoice::Target(target)
    }
}

/// Extension dialling, used when a key maps to [`MenuChoice::DialExtension`].
///
/// The caller hears `prompt`, then keys digits: the digits go to call control as soon as `max_digits` are
/// keyed, on `#` (if at least `min_digits`), or when `inter_digit_timeout` passes after a digit (again if at
/// least `min_digits`). Fewer digits, or any other key, is an invalid try; no digit before the menu's
/// `timeout` is a no-choice try. Either replays the extension prompt, within the menu's `max_attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionDialling {
    pub prompt: String,
    pub min_digits: u8,
    pub max_digits: u8,
    pub inter_digit_timeout: Duration,
}

impl Default for ExtensionDialling {
    /// The municipality's 4-digit extensions, with the built-in "Tast internnummeret." prompt.
    fn default() -> Self {
        ExtensionDialling {
            prompt: "extension".into(),
            min_digits: 4,
            max_digits: 4,
            inter_digit_timeout: DEFAULT_INTER_DIGIT_TIMEOUT,
        }
    }
}

/// An interactive voice menu. Prompts are named (see `switchboard_media::prompts`); call control looks the
/// names up, so an admin-uploaded recording replaces a built-in one without touching menus.
///
/// Build with [`MenuConfig::new`] and the `with_*` methods, or deserialize (which validates):
///
/// ```json
/// {
///   "id": 1, "name": "Hovedmeny", "prompt": "main_menu", "greeting": "welcome",
///   "options": { "1": "queue:10", "2": "hunt_group:3", "3": "menu:2", "0": "user:resepsjon",
///                "9": "dial_extension", "*": "repeat" },
///   "timeout_ms": 5000, "max_attempts": 3, "on_failure": "queue:10",
///   "extension": { "prompt": "extension", "min_digits": 4, "max_digits": 4, "inter_digit_timeout_ms": 3000 }
/// }
/// ```
///
/// Targets are written `queue:ID`, `hunt_group:ID`, `user:USERNAME`, `menu:ID`, `trunk:ID` or
/// `message:PROMPT`. Everything but `id`, `prompt` and `options` may be left out; unknown fields are
/// refused so that a typo does not silently fall back to a default.
///
/// `"priorities": {"1": 5}` lets a key raise the caller's queue priority (1–9, higher is served
/// first), e.g. "press 1 if you are a doctor". `"schedule_id": 2` puts the menu under opening hours;
/// outside them callers go to `"closed"` (a target), or hear the `closed` prompt if it is not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MenuSpec", into = "MenuSpec")]
pub struct MenuConfig {
    pub id: u64,
    /// For the admin's eyes only.
    pub name: String,
    /// The menu prompt, e.g. `main_menu` ("Trykk 1 for helse, …").
    pub prompt: String,
    /// Played once before the menu prompt, the first time only.
    pub greeting: Option<String>,
    pub options: BTreeMap<char, MenuChoice>,
    /// How long to wait for a key after the menu prompt ends.
    pub timeout: Duration,
    /// Failed tries (invalid key or no key) before the menu gives up; the prompt is heard this many times.
    pub max_attempts: u32,
    /// Played after an invalid key, before the prompt again.
    pub invalid_prompt: String,
    /// Played after no key, before the prompt again.
    pub no_choice_prompt: String,
    /// Where the call goes when the tries run out; `None` plays `goodbye_prompt` and hangs up.
    pub on_failure: Option<Target>,
    pub goodbye_prompt: String,
    pub extension: ExtensionDialling,
    /// Queue priority a key gives the caller (only keys that route somewhere).
    pub priorities: BTreeMap<char, u8>,
    /// Opening hours (a stored schedule's id); `None`: always open.
    pub schedule_id: Option<u64>,
    /// Where callers go outside the schedule's hours; `None`: the `closed` prompt, then hang up.
    pub closed: Option<Target>,
}

/// The highest queue priority a menu key or a public number may give a caller.
pub const MAX_PRIORITY: u8 = 9;

impl MenuConfig {
    /// A menu with no options yet, the default timeouts and attempts, the built-in nb prompt names, and
    /// goodbye when the tries run out.
    pub fn new(id: u64, name: impl Into<String>, prompt: impl Into<String>) -> Self {
        MenuConfig {
            id,
            name: name.into(),
            prompt: prompt.into(),
            greeting: None,
            options: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            invalid_prompt: "invalid_choice".into(),
            no_choice_prompt: "no_choice".into(),
            on_failure: None,
            goodbye_prompt: "goodbye".into(),
            extension: ExtensionDialling::default(),
            priorities: BTreeMap::new(),
            schedule_id: None,
            closed: None,
        }
    }

    /// The priority a key's route gives the caller (0 when the key sets none).
    pub fn priority_of(&self, key: char) -> u8 {
        self.priorities.get(&key).copied().unwrap_or(0)
    }

    pub fn with_option(mut self, key: char, choice: impl Into<MenuChoice>) -> Self {
        self.options.insert(key, choice.into());
        self
    }

    pub fn with_greeting(mut self, prompt: impl Into<String>) -> Self {
        self.greeting = Some(prompt.into());
        self
    }

    pub fn with_on_failure(mut self, target: Target) -> Self {
        self.on_failure = Some(target);
        self
    }

    /// Checks what deserializing checks, for menus built in code.
    ///
    /// A menu may not route to itself (through an option or `on_failure`): a key for that is
    /// [`MenuChoice::Repeat`], and `on_failure` pointing back would loop a silent line forever. Loops
    /// through other menus are legitimate ("0 for the main menu") and are bounded at run time instead, see
    /// [`super::MAX_MENU_DEPTH`].
    pub fn validate(&self) -> Result<(), RoutingError> {
        let invalid = |reason| RoutingError::InvalidMenu {
            menu: self.id,
            reason,
        };
        for (prompt, reason) in [
            (&self.prompt, "the prompt name is empty"),
            (
                &self.invalid_prompt,
                "the invalid-choice prompt name is empty",
            ),
            (&self.no_choice_prompt, "the no-choice prompt name is empty"),
            (&self.goodbye_prompt, "the goodbye prompt name is empty"),
            (&self.extension.prompt, "the extension prompt name is empty"),
        ] {
            if prompt.trim().is_empty() {
                return Err(invalid(reason));
            }
        }
        if self.greeting.as_ref().is_some_and(|g| g.trim().is_empty()) {
            return Err(invalid("the greeting prompt name is empty"));
        }
        if self.options.is_empty() {
            return Err(invalid("the menu has no options"));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(invalid("the timeout must be between 1 ms and 60 s"));
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(invalid("max attempts must be between 1 and 10"));
        }
        for (key, choice) in &self.options {
            if !KEYS.contains(key) {
                return Err(RoutingError::InvalidMenuKey {
                    menu: self.id,
                    key: key.to_string(),
                });
            }
            if let MenuChoice::Target(target) = choice {
                self.check_target(target)?;
            }
        }
        if let Some(target) = &self.on_failure {
            self.check_target(target)?;
        }
        for (key, priority) in &self.priorities {
            if !matches!(self.options.get(key), Some(MenuChoice::Target(_))) {
                return Err(RoutingError::InvalidMenuKey {
                    menu: self.id,
                    key: key.to_string(),
                });
            }
            if !(1..=MAX_PRIORITY).contains(priority) {
                return Err(invalid("a key's priority must be between 1 and 9"));
            }
        }
        if let Some(target) = &self.closed {
            if self.schedule_id.is_none() {
                return Err(invalid("a closed target needs a schedule_id"));
            }
            self.check_target(target)?;
        }
        let ext = &self.extension;
        if ext.min_digits == 0 || ext.min_digits > ext.max_digits {
            return Err(invalid("extension digits need 1 <= min <= max"));
        }
        if ext.max_digits > MAX_EXTENSION_DIGITS {
            return Err(invalid("extensions have at most 16 digits"));
        }
        if ext.inter_digit_timeout.is_zero() || ext.inter_digit_timeout > MAX_TIMEOUT {
            return Err(invalid(
                "the inter-digit timeout must be between 1 ms and 60 s",
            ));
        }
        Ok(())
    }

    fn check_target(&self, target: &Target) -> Result<(), RoutingError> {
        let invalid = |reason| RoutingError::InvalidMenu {
            menu: self.id,
            reason,
        };
        match target {
            Target::Menu(id) if *id == self.id => Err(invalid(
                "the menu routes to itself (use repeat for a key that replays it)",
            )),
            Target::User(name) if name.trim().is_empty() => Err(invalid("a user target is empty")),
            Target::Message(name) if name.trim().is_empty() => {
                Err(invalid("a message target has no prompt name"))
            }
            _ => Ok(()),
        }
    }
}

/// The written form of a target (`queue:7`), as in the admin API.
pub fn format_target(target: &Target) -> String {
    match target {
        Target::User(name) => format!("user:{name}"),
        Target::HuntGroup(id) => format!("hunt_group:{id}"),
        Target::Queue(id) => format!("queue:{id}"),
        Target::Menu(id) => format!("menu:{id}"),
        Target::Trunk(id) => format!("trunk:{id}"),
        Target::Message(name) => format!("message:{name}"),
    }
}

/// Reads what [`format_target`] writes; `None` for anything else.
pub fn parse_target(text: &str) -> Option<Target> {
    let (kind, rest) = text.split_once(':')?;
    let id = || rest.parse::<u64>().ok();
    Some(match kind {
        "user" if !rest.is_empty() => Target::User(rest.to_string()),
        "hunt_group" => Target::HuntGroup(id()?),
        "queue" => Target::Queue(id()?),
        "menu" => Target::Menu(id()?),
        "trunk" => Target::Trunk(id()?),
        "message" if !rest.is_empty() => Target::Message(rest.to_string()),
        _ => return None,
    })
}

fn format_choice(choice: &MenuChoice) -> String {
    match choice {
        MenuChoice::Target(target) => format_target(target),
        MenuChoice::DialExtension => "dial_extension".into(),
        MenuChoice::Repeat => "repeat".into(),
    }
}

fn parse_choice(text: &str) -> Option<MenuChoice> {
    match text {
        "dial_extension" => Some(MenuChoice::DialExtension),
        "repeat" => Some(MenuChoice::Repeat),
        _ => parse_target(text).map(MenuChoice::Target),
    }
}

/// The JSON shape of [`MenuConfig`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuSpec {
    id: u64,
    #[serde(default)]
    name: String,
    prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    greeting: Option<String>,
    options: BTreeMap<String, String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_invalid_prompt")]
    invalid_prompt: String,
    #[serde(default = "default_no_choice_prompt")]
    no_choice_prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_failure: Option<String>,
    #[serde(default = "default_goodbye_prompt")]
    goodbye_prompt: String,
    #[serde(default)]
    extension: ExtensionSpec,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    priorities: BTreeMap<String, u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionSpec {
    #[serde(default = "default_extension_prompt")]
    prompt: String,
    #[serde(default = "default_digits")]
    min_digits: u8,
    #[serde(default = "default_digits")]
    max_digits: u8,
    #[serde(default = "default_inter_digit_ms")]
    inter_digit_timeout_ms: u64,
}

impl Default for ExtensionSpec {
    fn default() -> Self {
        ExtensionSpec::from(ExtensionDialling::default())
    }
}

fn default_timeout_ms() -> u64 {
    millis(DEFAULT_TIMEOUT)
}
fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}
fn default_invalid_prompt() -> String {
    "invalid_choice".into()
}
fn default_no_choice_prompt() -> String {
    "no_choice".into()
}
fn default_goodbye_prompt() -> String {
    "goodbye".into()
}
fn default_extension_prompt() -> String {
    ExtensionDialling::default().prompt
}
fn default_digits() -> u8 {
    ExtensionDialling::default().max_digits
}
fn default_inter_digit_ms() -> u64 {
    millis(DEFAULT_INTER_DIGIT_TIMEOUT)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<ExtensionDialling> for ExtensionSpec {
    fn from(e: ExtensionDialling) -> Self {
        ExtensionSpec {
            prompt: e.prompt,
            min_digits: e.min_digits,
            max_digits: e.max_digits,
            inter_digit_timeout_ms: millis(e.inter_digit_timeout),
        }
    }
}

impl From<MenuConfig> for MenuSpec {
    fn from(c: MenuConfig) -> Self {
        MenuSpec {
            id: c.id,
            name: c.name,
            prompt: c.prompt,
            greeting: c.greeting,
            options: c
                .options
                .iter()
                .map(|(key, choice)| (key.to_string(), format_choice(choice)))
                .collect(),
            timeout_ms: millis(c.timeout),
            max_attempts: c.max_attempts,
            invalid_prompt: c.invalid_prompt,
            no_choice_prompt: c.no_choice_prompt,
            on_failure: c.on_failure.as_ref().map(format_target),
            goodbye_prompt: c.goodbye_prompt,
            extension: c.extension.into(),
            priorities: c
                .priorities
                .iter()
                .map(|(key, p)| (key.to_string(), *p))
                .collect(),
            schedule_id: c.schedule_id,
            closed: c.closed.as_ref().map(format_target),
        }
    }
}

impl TryFrom<MenuSpec> for MenuConfig {
    type Error = RoutingError;

    fn try_from(spec: MenuSpec) -> Result<Self, Self::Error> {
        let menu = spec.id;
        let key_of = |key: &String| {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(k), None) => Ok(k),
                _ => Err(RoutingError::InvalidMenuKey {
                    menu,
                    key: key.clone(),
                }),
            }
        };
        let mut options = BTreeMap::new();
        for (key, choice) in &spec.options {
            let k = key_of(key)?;
            let choice = parse_choice(choice).ok_or_else(|| RoutingError::InvalidMenuChoice {
                menu,
                value: choice.clone(),
            })?;
            options.insert(k, choice);
        }
        let target_of = |text: &Option<String>| match text {
            None => Ok(None),
            Some(text) => {
                parse_target(text)
                    .map(Some)
                    .ok_or_else(|| RoutingError::InvalidMenuChoice {
                        menu,
                        value: text.clone(),
                    })
            }
        };
        let on_failure = target_of(&spec.on_failure)?;
        let closed = target_of(&spec.closed)?;
        let mut priorities = BTreeMap::new();
        for (key, p) in &spec.priorities {
            priorities.insert(key_of(key)?, *p);
        }
        let config = MenuConfig {
            id: spec.id,
            name: spec.name,
            prompt: spec.prompt,
            greeting: spec.greeting,
            options,
            timeout: Duration::from_millis(spec.timeout_ms),
            max_attempts: spec.max_attempts,
            invalid_prompt: spec.invalid_prompt,
            no_choice_prompt: spec.no_choice_prompt,
            on_failure,
            goodbye_prompt: spec.goodbye_prompt,
            extension: ExtensionDialling {
                prompt: spec.extension.prompt,
                min_digits: spec.extension.min_digits,
                max_digits: spec.extension.max_digits,
                inter_digit_timeout: Duration::from_millis(spec.extension.inter_digit_timeout_ms),
            },
            priorities,
            schedule_id: spec.schedule_id,
            closed,
        };
        config.validate()?;
        Ok(config)
    }
}
