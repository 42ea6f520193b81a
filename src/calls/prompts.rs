//! Prompts as call control plays them: an uploaded prompt (in the database) wins over the built-in
//! one of the same name. Each is read and decoded once and kept until the admin API reports a change
//! to it, so a queue's music and announcements cost no database read or WAV decoding per play.

use std::collections::HashMap;

use switchboard_media::prompts::PromptSet;
use switchboard_media_rt::Prompt;
use switchboard_schema::Db;

pub(super) struct Prompts {
    builtin: PromptSet,
    /// Decoded prompts by name; `None` for a name that is neither uploaded nor built in.
    decoded: HashMap<String, Option<Prompt>>,
}

impl Prompts {
    pub(super) fn new() -> Prompts {
        Prompts {
            builtin: PromptSet::builtin_nb(),
            decoded: HashMap::new(),
        }
    }

    /// The prompt `name`, uploaded or built in.
    pub(super) async fn get(&mut self, db: &Db, name: &str) -> Option<Prompt> {
        if let Some(p) = self.decoded.get(name) {
            return p.clone();
        }
        let prompt = match db.get_prompt(name).await {
            Ok(Some(wav)) => Prompt::from_wav(&wav)
                .map_err(|e| tracing::warn!(prompt = %name, error = %e, "uploaded prompt unusable"))
                .ok(),
            Ok(None) => self.builtin.decode(name).and_then(Result::ok),
            Err(e) => {
                // Not cached: the database may answer next time.
                tracing::warn!(prompt = %name, error = %e, "prompt lookup failed");
                return self.builtin.decode(name).and_then(Result::ok);
            }
        };
        if prompt.is_none() {
            tracing::warn!(prompt = %name, "no such prompt");
        }
        self.decoded.insert(name.to_string(), prompt.clone());
        prompt
    }

    /// An upload of `name` changed: read it again next time.
    pub(super) fn forget(&mut self, name: &str) {
        self.decoded.remove(name);
    }

    /// Change notices were lost: read everything again.
    pub(super) fn forget_all(&mut self) {
        self.decoded.clear();
    }
}
