//! One caller's walk through a menu.

use std::collections::VecDeque;
use std::time::Instant;

use super::{MenuChoice, MenuConfig};
use crate::numbers::Target;

/// How many menus one call may pass through (counting the first as depth 0) before a session refuses to
/// run and says goodbye. Sixteen is far more than a person navigates on purpose, and bounds a silent line
/// bouncing between menus whose `on_failure` points at each other.
pub const MAX_MENU_DEPTH: u32 = 16;

/// How often the repeat key works in one session; further presses count as invalid tries, so that a stuck
/// key or a robot cannot hold a line for ever.
pub const MAX_REPEATS: u32 = 10;

/// What call control should do next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuAction {
    /// Play the named prompt, then report [`MenuSession::handle_playback_done`]. `interruptible` says
    /// whether a key may cut it short.
    Play { prompt: String, interruptible: bool },
    /// Stop the prompt now playing; it will not be reported done.
    StopPlayback,
    /// The caller chose this target; the session has ended.
    Route(Target),
    /// The caller keyed this extension; call control finds its owner. The session has ended.
    DialExtension(String),
    /// Hang up (after the goodbye prompt); the session has ended.
    Hangup,
}

/// Where the session is. Playing stages wait for `handle_playback_done`; waiting stages for a key or
/// their deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Greeting,
    MenuPrompt,
    MenuWait {
        deadline: Instant,
    },
    /// The invalid/no-choice prompt, then the menu prompt again (or the extension prompt).
    Notice {
        extension: bool,
    },
    ExtensionPrompt,
    /// Collecting extension digits; the deadline is the first-digit or inter-digit timeout.
    ExtensionDigits {
        digits: String,
        deadline: Instant,
    },
    Goodbye,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Invalid,
    NoChoice,
}

/// One caller in one menu, sans-IO; see the [module docs](super) for the contract with call control.
#[derive(Debug, Clone)]
pub struct MenuSession {
    config: MenuConfig,
    depth: u32,
    started: Instant,
    stage: Stage,
    failures: u32,
    repeats: u32,
    actions: VecDeque<MenuAction>,
    /// The queue priority the key that routed the caller gives (0 until then, and for `on_failure`).
    chosen_priority: u8,
}

impl MenuSession {
    /// A caller entering `config` from outside any menu (depth 0). The first action is ready at once.
    pub fn new(config: MenuConfig, now: Instant) -> Self {
        Self::nested(config, now, 0)
    }

    /// A caller entering `config` from another menu: `depth` is the previous session's
    /// [`MenuSession::depth`] + 1. At [`MAX_MENU_DEPTH`] or deeper the session only says goodbye.
    pub fn nested(config: MenuConfig, now: Instant, depth: u32) -> Self {
        let mut session = MenuSession {
            config,
            depth,
            started: now,
            stage: Stage::Done,
            failures: 0,
            repeats: 0,
            actions: VecDeque::new(),
            chosen_priority: 0,
        };
        if depth >= MAX_MENU_DEPTH {
            session.goodbye();
        } else if let Some(greeting) = session.config.greeting.clone() {
            session.play(greeting, true, Stage::Greeting);
        } else {
            session.play_menu();
        }
        session
    }

    pub fn config(&self) -> &MenuConfig {
        &self.config
    }

    /// How many menus the call passed through before this one.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// When the caller entered this menu.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Failed tries so far (invalid keys and timeouts).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// True once the final action (route, extension or hang-up) has been queued.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The prompt that call control was last told to play has ended by itself.
    pub fn handle_playback_done(&mut self, now: Instant) {
        match self.stage {
            Stage::Greeting => self.play_menu(),
            Stage::MenuPrompt => {
                self.stage = Stage::MenuWait {
                    deadline: now + self.config.timeout,
                }
            }
            Stage::Notice { extension: false } => self.play_menu(),
            Stage::Notice { extension: true } => self.play_extension_prompt(),
            Stage::ExtensionPrompt => {
                self.stage = Stage::ExtensionDigits {
                    digits: String::new(),
                    deadline: now + self.config.timeout,
                }
            }
            Stage::Goodbye => {
                self.actions.push_back(MenuAction::Hangup);
                self.stage = Stage::Done;
            }
            // A stray report (after a stop, or while waiting) changes nothing.
            Stage::MenuWait { .. } | Stage::ExtensionDigits { .. } | Stage::Done => {}
        }
    }

    /// The caller pressed `key` (`0`–`9`, `*`, `#`; anything else, such as DTMF `A`–`D`, is an invalid
    /// choice).
    pub fn handle_digit(&mut self, now: Instant, key: char) {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Greeting | Stage::MenuPrompt | Stage::Notice { extension: false } => {
                self.actions.push_back(MenuAction::StopPlayback);
                self.menu_key(key);
            }
            Stage::MenuWait { .. } => self.menu_key(key),
            Stage::Notice { extension: true } | Stage::ExtensionPrompt => {
                self.actions.push_back(MenuAction::StopPlayback);
                self.extension_key(now, key, String::new());
            }
            Stage::ExtensionDigits { digits, .. } => self.extension_key(now, key, digits),
            stage @ (Stage::Goodbye | Stage::Done) => self.stage = stage,
        }
    }

    /// The timer armed at [`MenuSession::poll_timeout`] fired. Early or stale calls are ignored.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.stage {
            Stage::MenuWait { deadline } if now >= *deadline => self.fail(Failure::NoChoice, false),
            Stage::ExtensionDigits { digits, deadline } if now >= *deadline => {
                if digits.is_empty() {
                    self.fail(Failure::NoChoice, true);
                } else if digits.len() >= usize::from(self.config.extension.min_digits) {
                    let digits = digits.clone();
                    self.finish(MenuAction::DialExtension(digits));
                } else {
                    self.fail(Failure::Invalid, true);
                }
            }
            _ => {}
        }
    }

    /// The next thing call control should do, in order.
    /// The queue priority of the caller's choice, once [`MenuAction::Route`] was given (see
    /// [`MenuConfig::priorities`]); 0 otherwise.
    pub fn chosen_priority(&self) -> u8 {
        self.chosen_priority
    }

    pub fn poll_action(&mut self) -> Option<MenuAction> {
        self.actions.pop_front()
    }

    /// When [`MenuSession::handle_timeout`] is due, if the session is waiting for a key.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::MenuWait { deadline } | Stage::ExtensionDigits { deadline, .. } => {
                Some(*deadline)
            }
            _ => None,
        }
    }

    fn menu_key(&mut self, key: char) {
        match self.config.options.get(&key) {
            Some(MenuChoice::Target(target)) => {
                let target = target.clone();
                self.chosen_priority = self.config.priority_of(key);
                self.finish(MenuAction::Route(target));
            }
            Some(MenuChoice::DialExtension) => self.play_extension_prompt(),
            Some(MenuChoice::Repeat) if self.repeats < MAX_REPEATS => {
                self.repeats += 1;
                self.play_menu();
            }
            Some(MenuChoice::Repeat) | None => self.fail(Failure::Invalid, false),
        }
    }

    fn extension_key(&mut self, now: Instant, key: char, mut digits: String) {
        let ext = &self.config.extension;
        match key {
            '0'..='9' => {
                digits.push(key);
                if digits.len() >= usize::from(ext.max_digits) {
                    self.finish(MenuAction::DialExtension(digits));
                } else {
                    self.stage = Stage::ExtensionDigits {
                        digits,
                        deadline: now + ext.inter_digit_timeout,
                    };
                }
            }
            '#' if !digits.is_empty() && digits.len() >= usize::from(ext.min_digits) => {
                self.finish(MenuAction::DialExtension(digits));
            }
            _ => self.fail(Failure::Invalid, true),
        }
    }

    /// A failed try: tell the caller and ask again, or give up once the tries are used.
    fn fail(&mut self, failure: Failure, extension: bool) {
        self.failures += 1;
        if self.failures >= self.config.max_attempts {
            match self.config.on_failure.clone() {
                Some(target) => self.finish(MenuAction::Route(target)),
                None => self.goodbye(),
            }
            return;
        }
        let notice = match failure {
            Failure::Invalid => self.config.invalid_prompt.clone(),
            Failure::NoChoice => self.config.no_choice_prompt.clone(),
        };
        self.play(notice, true, Stage::Notice { extension });
    }

    fn play_menu(&mut self) {
        self.play(self.config.prompt.clone(), true, Stage::MenuPrompt);
    }

    fn play_extension_prompt(&mut self) {
        self.play(
            self.config.extension.prompt.clone(),
            true,
            Stage::ExtensionPrompt,
        );
    }

    fn goodbye(&mut self) {
        self.play(self.config.goodbye_prompt.clone(), false, Stage::Goodbye);
    }

    fn play(&mut self, prompt: String, interruptible: bool, stage: Stage) {
        self.actions.push_back(MenuAction::Play {
            prompt,
            interruptible,
        });
        self.stage = stage;
    }

    fn finish(&mut self, action: MenuAction) {
        self.actions.push_back(action);
        self.stage = Stage::Done;
    }
}
