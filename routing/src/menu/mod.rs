//! Voice menus (IVR): "Trykk 1 for helse, 2 for skole, …" as a sans-IO state machine per caller.
//!
//! # Model
//! A [`MenuConfig`] is what the admin set up; a [`MenuSession`] is one caller's walk through it. Call
//! control feeds the session `handle_*` inputs with the current [`Instant`](std::time::Instant) (a key the
//! caller pressed, a prompt that finished playing, a timer that fired), drains
//! [`MenuSession::poll_action`] and arms a timer at [`MenuSession::poll_timeout`]. The session never plays,
//! routes or sleeps itself.
//!
//! # The caller's path
//! 1. The greeting, if any, the first time only; then the menu prompt. Both can be interrupted by a key,
//!    which counts as the caller's choice (regular callers know the menu by heart).
//! 2. After the prompt ends, the menu waits [`MenuConfig::timeout`] for a key.
//! 3. A key with a [`MenuChoice::Target`] routes the call and ends the session. [`MenuChoice::Repeat`]
//!    plays the prompt again. [`MenuChoice::DialExtension`] plays the extension prompt and collects digits
//!    (see [`ExtensionDialling`]), ending with [`MenuAction::DialExtension`]: call control resolves the
//!    extension, since routing does not know who has it.
//! 4. An invalid key, or no key in time, is a failed try: the invalid-choice or no-choice prompt, then the
//!    menu (or extension) prompt again. After [`MenuConfig::max_attempts`] failed tries the call goes to
//!    [`MenuConfig::on_failure`], or hears the goodbye prompt and is hung up.
//!
//! # What call control must know
//! - Play prompts one at a time, in order, and report [`MenuSession::handle_playback_done`] when one ends
//!   by itself. After [`MenuAction::StopPlayback`] the stopped prompt is abandoned: do not report it done.
//! - A prompt with `interruptible: false` (goodbye) should not be cut short; keys during it are ignored.
//! - The session ends with exactly one of [`MenuAction::Route`], [`MenuAction::DialExtension`] or
//!   [`MenuAction::Hangup`]; afterwards every input is ignored and [`MenuSession::poll_timeout`] is `None`.
//! - [`MenuAction::Route`] with [`Target::Menu`](crate::numbers::Target::Menu) nests: create the next
//!   session with [`MenuSession::nested`], passing `previous.depth() + 1`.
//!
//! # Loops
//! Menus may lead to each other ("0 for the main menu"), and `on_failure` may point at another menu, so a
//! silent line (a caller who walked away without the BYE reaching us) could travel A → B → A for ever.
//! Two guards: a menu may not route to itself ([`MenuConfig::validate`]), and a session nested
//! [`MAX_MENU_DEPTH`] deep plays goodbye and hangs up at once. Within one menu, [`MAX_REPEATS`] bounds the
//! repeat key, so every session ends after a bounded number of inputs whatever the caller does.

mod config;
mod session;
#[cfg(test)]
mod tests;

pub use config::{
    format_target, parse_target, ExtensionDialling, MenuChoice, MenuConfig,
    DEFAULT_INTER_DIGIT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, KEYS, MAX_ATTEMPTS_LIMIT,
    MAX_EXTENSION_DIGITS, MAX_PRIORITY, MAX_TIMEOUT,
};
pub use session::{MenuAction, MenuSession, MAX_MENU_DEPTH, MAX_REPEATS};
