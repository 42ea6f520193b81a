//! The prompt library: the built-in Norwegian (bokmål) set compiled into the binary, admin replacements,
//! and the sentences queue announcements are built from.
//!
//! Prompts are WAV files looked up by name (`welcome`, `main_menu`, `num_3`, …); menus and queues refer to
//! names only, so an admin who uploads a recorded `welcome` replaces the synthetic one everywhere. The
//! built-in files are generated from `media/prompts/nb/prompts.tsv` by `media/prompts/generate.sh`
//! (espeak-ng and sox, 8 kHz mono 16-bit) and embedded with `include_bytes!`, so a fresh install speaks
//! with nothing on disk. [`MUSIC_ON_HOLD`] (`moh`) is in the same set.
//!
//! Announcements are sequences of clips that [`crate::playback`] plays back to back: see
//! [`queue_position`] and [`expected_wait`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::playback::Prompt;
use crate::MediaError;

/// The name of the music on hold in [`PromptSet::builtin_nb`]: a self-synthesised, royalty-free 26 s loop.
pub const MUSIC_ON_HOLD: &str = "moh";
/// Ringing tone (425 Hz, 1 s on, 4 s off) for queues that ring rather than play music.
pub const RINGBACK: &str = "ringback";

/// "Du er nummer".
pub const QUEUE_POSITION: &str = "queue_position";
/// "i køen".
pub const IN_QUEUE: &str = "in_queue";
/// "Det er mer enn tjue som venter i køen." — said instead of a position above 20.
pub const QUEUE_MANY: &str = "queue_many";
/// "Forventet ventetid er omtrent".
pub const WAIT_ABOUT: &str = "wait_about";
/// "Forventet ventetid er" — before "mindre enn ett minutt" and "mer enn tjue minutter", where "omtrent"
/// would be wrong.
pub const WAIT_IS: &str = "wait_is";
/// "ett": the neuter one, as in "ett minutt".
pub const ONE_NEUTER: &str = "one_neuter";
/// "minutt".
pub const MINUTE: &str = "minute";
/// "minutter".
pub const MINUTES: &str = "minutes";
/// "mindre enn ett minutt".
pub const LESS_THAN_ONE_MINUTE: &str = "less_than_one_minute";
/// "mer enn".
pub const MORE_THAN: &str = "more_than";

/// The clips for 1–20 ("en", "to", … "tjue"), index 0 saying one: the cardinal forms a Norwegian hears
/// after "nummer" and before "minutter".
pub const NUMBERS: [&str; 20] = [
    "num_1", "num_2", "num_3", "num_4", "num_5", "num_6", "num_7", "num_8", "num_9", "num_10",
    "num_11", "num_12", "num_13", "num_14", "num_15", "num_16", "num_17", "num_18", "num_19",
    "num_20",
];

/// The highest number the built-in set can say.
pub const MAX_SPOKEN_NUMBER: u32 = 20;

/// Every built-in prompt, by name. Kept in step with `prompts/nb/prompts.tsv` by a test.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../prompts/nb/", $name, ".wav")) as &[u8])),*]
    };
}

const BUILTIN_NB: &[(&str, &[u8])] = builtin![
    "confirm",
    "welcome",
    "main_menu",
    "invalid_choice",
    "no_choice",
    "goodbye",
    "closed",
    "queue_greeting",
    "queue_position",
    "in_queue",
    "queue_many",
    "num_1",
    "num_2",
    "num_3",
    "num_4",
    "num_5",
    "num_6",
    "num_7",
    "num_8",
    "num_9",
    "num_10",
    "num_11",
    "num_12",
    "num_13",
    "num_14",
    "num_15",
    "num_16",
    "num_17",
    "num_18",
    "num_19",
    "num_20",
    "wait_about",
    "wait_is",
    "one_neuter",
    "minute",
    "minutes",
    "less_than_one_minute",
    "more_than",
    "callback_offer",
    "callback_confirmed",
    "callback_intro",
    "callback_number",
    "callback_enter_number",
    "callback_invalid_number",
    "callback_booked_number",
    "transfer",
    "extension",
];

const MOH_WAV: &[u8] = include_bytes!("../prompts/moh.wav");
const RINGBACK_WAV: &[u8] = include_bytes!("../prompts/ringback.wav");

/// Prompts by name: WAV bytes, built-in ones borrowed from the binary, replacements owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptSet {
    prompts: BTreeMap<String, Cow<'static, [u8]>>,
}

impl PromptSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in Norwegian (bokmål) prompts and [`MUSIC_ON_HOLD`].
    pub fn builtin_nb() -> Self {
        let prompts = BUILTIN_NB
            .iter()
            .chain([&(MUSIC_ON_HOLD, MOH_WAV), &(RINGBACK, RINGBACK_WAV)])
            .map(|&(name, wav)| (name.to_string(), Cow::Borrowed(wav)))
            .collect();
        PromptSet { prompts }
    }

    /// The WAV bytes of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.prompts.get(name).map(|wav| wav.as_ref())
    }

    /// `name` decoded for playback: `None` if there is no such prompt.
    pub fn decode(&self, name: &str) -> Option<Result<Prompt, MediaError>> {
        self.get(name).map(Prompt::from_wav)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.prompts.contains_key(name)
    }

    /// Every name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.prompts.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Adds or replaces `name` with an uploaded WAV file, which must decode as something playback can play
    /// (see [`Prompt::from_wav`]: PCM, A-law or μ-law, mono or stereo, 8–48 kHz, under the size cap) and
    /// hold at least one sample (an empty file is refused as [`MediaError::WavTruncated`]). On error the set
    /// is unchanged. Returns the bytes it replaced. Names are not checked here: the admin API decides which
    /// names it lets an admin upload.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        wav: impl Into<Vec<u8>>,
    ) -> Result<Option<Cow<'static, [u8]>>, MediaError> {
        let wav = wav.into();
        let prompt = Prompt::from_wav(&wav)?;
        if prompt.samples().is_empty() {
            return Err(MediaError::WavTruncated);
        }
        Ok(self.prompts.insert(name.into(), Cow::Owned(wav)))
    }

    /// Removes `name`; an admin's replacement can be undone by inserting the built-in bytes again.
    pub fn remove(&mut self, name: &str) -> Option<Cow<'static, [u8]>> {
        self.prompts.remove(name)
    }
}

/// The clip for `n` in 1–20.
pub fn number(n: u32) -> Option<&'static str> {
    let index = usize::try_from(n.checked_sub(1)?).ok()?;
    NUMBERS.get(index).copied()
}

/// "Du er nummer tre i køen": `queue_position`, the number, `in_queue`.
///
/// Positions count from 1; 0 is read as 1 (a caller at the head of the queue is next). Above 20 the
/// built-in set has no number, and a long queue is better told as "many" than counted exactly anyway: it
/// says [`QUEUE_MANY`] ("Det er mer enn tjue som venter i køen.") alone.
pub fn queue_position(position: u32) -> Vec<&'static str> {
    match number(position.max(1)) {
        Some(n) => vec![QUEUE_POSITION, n, IN_QUEUE],
        None => vec![QUEUE_MANY],
    }
}

/// "Forventet ventetid er omtrent fem minutter", for a wait already rounded to whole `minutes`.
///
/// - 0 (under a minute): "Forventet ventetid er mindre enn ett minutt";
/// - 1: "… omtrent ett minutt" (minutt is neuter: "ett", not "en");
/// - 2–20: "… omtrent N minutter";
/// - above 20: "Forventet ventetid er mer enn tjue minutter" — a longer estimate is too uncertain to be
///   worth more precision, and the built-in set counts only to 20.
pub fn expected_wait(minutes: u32) -> Vec<&'static str> {
    match minutes {
        0 => vec![WAIT_IS, LESS_THAN_ONE_MINUTE],
        1 => vec![WAIT_ABOUT, ONE_NEUTER, MINUTE],
        n => match number(n) {
            Some(clip) => vec![WAIT_ABOUT, clip, MINUTES],
            None => vec![WAIT_IS, MORE_THAN, NUMBERS[NUMBERS.len() - 1], MINUTES],
        },
    }
}

/// [`expected_wait`] for an estimate as a duration: under a minute is "less than one minute", otherwise
/// rounded to the nearest minute (half a minute rounds up).
pub fn expected_wait_for(wait: Duration) -> Vec<&'static str> {
    let secs = wait.as_secs();
    let minutes = if secs < 60 {
        0
    } else {
        secs.saturating_add(30) / 60
    };
    expected_wait(u32::try_from(minutes).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::{self, WavEncoding};

    const TABLE: &str = include_str!("../prompts/nb/prompts.tsv");

    fn table_names() -> Vec<&'static str> {
        TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap())
            .collect()
    }

    /// Root mean square of the samples, in sample units (full scale 32767).
    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn table_and_embedded_set_name_the_same_prompts() {
        let mut from_table = table_names();
        assert!(from_table.iter().all(|l| !l.is_empty()));
        for line in TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let fields: Vec<_> = line.split('\t').collect();
            assert!((2..=3).contains(&fields.len()), "{line:?}");
            assert!(!fields[1].trim().is_empty(), "{line:?} has no text");
        }
        from_table.push(MUSIC_ON_HOLD);
        from_table.push(RINGBACK);
        from_table.sort_unstable();
        let before = from_table.len();
        from_table.dedup();
        assert_eq!(
            before,
            from_table.len(),
            "a name is given twice in prompts.tsv"
        );
        let set = PromptSet::builtin_nb();
        assert_eq!(set.names().collect::<Vec<_>>(), from_table);
    }

    #[test]
    fn every_builtin_prompt_is_8khz_mono_pcm_audible_and_long_enough() {
        let set = PromptSet::builtin_nb();
        let mut total = 0;
        for name in set.names() {
            let bytes = set.get(name).unwrap();
            total += bytes.len();
            let info = wav::inspect(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (info.encoding, info.channels, info.rate),
                (WavEncoding::Pcm16, 1, 8000),
                "{name}"
            );
            let audio = wav::read(bytes).unwrap();
            let ms = audio.samples.len() * 1000 / 8000;
            assert!(ms > 300, "{name} lasts {ms} ms");
            // About -30 dBFS: generate.sh normalises speech peaks to -3 dBFS, so a clip this quiet is
            // silence or a failed synthesis.
            let level = rms(&audio.samples);
            assert!(level > 1000.0, "{name} is nearly silent (RMS {level:.0})");
            let peak = audio
                .samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap();
            assert!(peak < 32000, "{name} clips (peak {peak})");
            assert!(set.decode(name).unwrap().is_ok());
        }
        assert!(total < 2 << 20, "prompts take {total} bytes");
    }

    #[test]
    fn music_on_hold_loops_cleanly() {
        let audio = wav::read(PromptSet::builtin_nb().get(MUSIC_ON_HOLD).unwrap()).unwrap();
        let secs = audio.samples.len() / 8000;
        assert!((20..=30).contains(&secs), "{secs} s");
        // Both ends near silence, so the jump from the last sample to the first does not click.
        let edge = 80; // 10 ms
        let head = &audio.samples[..edge];
        let tail = &audio.samples[audio.samples.len() - edge..];
        assert!(rms(head) < 300.0, "head RMS {}", rms(head));
        assert!(rms(tail) < 300.0, "tail RMS {}", rms(tail));
        assert!(rms(&audio.samples) > 1000.0);
    }

    #[test]
    fn queue_position_sentences() {
        assert_eq!(queue_position(3), [QUEUE_POSITION, "num_3", IN_QUEUE]);
        assert_eq!(queue_position(1), [QUEUE_POSITION, "num_1", IN_QUEUE]);
        assert_eq!(queue_position(0), queue_position(1));
        assert_eq!(queue_position(20), [QUEUE_POSITION, "num_20", IN_QUEUE]);
        assert_eq!(queue_position(21), [QUEUE_MANY]);
        assert_eq!(queue_position(u32::MAX), [QUEUE_MANY]);
    }

    #[test]
    fn expected_wait_sentences() {
        assert_eq!(expected_wait(0), [WAIT_IS, LESS_THAN_ONE_MINUTE]);
        assert_eq!(expected_wait(1), [WAIT_ABOUT, ONE_NEUTER, MINUTE]);
        assert_eq!(expected_wait(2), [WAIT_ABOUT, "num_2", MINUTES]);
        assert_eq!(expected_wait(20), [WAIT_ABOUT, "num_20", MINUTES]);
        assert_eq!(expected_wait(21), [WAIT_IS, MORE_THAN, "num_20", MINUTES]);
        assert_eq!(expected_wait_for(Duration::from_secs(59)), expected_wait(0));
        assert_eq!(expected_wait_for(Duration::from_secs(60)), expected_wait(1));
        assert_eq!(expected_wait_for(Duration::from_secs(89)), expected_wait(1));
        assert_eq!(expected_wait_for(Duration::from_secs(90)), expected_wait(2));
        assert_eq!(expected_wait_for(Duration::MAX), expected_wait(21));
        assert_eq!(number(0), None);
        assert_eq!(number(21), None);
        assert_eq!(number(7), Some("num_7"));
    }

    #[test]
    fn every_clip_a_sentence_names_exists() {
        let set = PromptSet::builtin_nb();
        for n in 0..=25 {
            for clip in queue_position(n).into_iter().chain(expected_wait(n)) {
                assert!(set.contains(clip), "{clip} (for {n}) is missing");
            }
        }
    }

    #[test]
    fn insert_validates_and_replaces() {
        let mut set = PromptSet::builtin_nb();
        let before = set.clone();
        assert!(matches!(
            set.insert("welcome", b"not a wav file".to_vec()),
            Err(MediaError::WavNotWave)
        ));
        let mut w = wav::WavWriter::new(16000, 1).unwrap();
        let mut file = w.header().to_vec();
        assert_eq!(
            set.insert("welcome", file.clone()),
            Err(MediaError::WavTruncated),
            "no samples"
        );
        assert_eq!(set, before, "a refused upload changes nothing");
        w.write_samples(&[100, -100, 200], &mut file);
        file[..wav::HEADER_LEN].copy_from_slice(&w.finish().header);
        let old = set.insert("welcome", file.clone()).unwrap();
        assert_eq!(old.as_deref(), before.get("welcome"));
        assert_eq!(set.get("welcome"), Some(&file[..]));
        assert_eq!(set.insert("custom_closed", file.clone()).unwrap(), None);
        assert_eq!(set.len(), before.len() + 1);
        assert!(set.remove("custom_closed").is_some());
        assert!(PromptSet::new().is_empty());
    }
}
