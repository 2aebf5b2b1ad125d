//! Which provider transcribes voice notes (`effects::transcriber`), read from the
//! environment with the providers, since it names one of them:
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `LIGHTSPEED_TRANSCRIPTION_PROVIDER` | `openai` | a configured provider with an OpenAI API kind |
//! | `LIGHTSPEED_TRANSCRIPTION_MODEL` | `gpt-4o-mini-transcribe` | the model its `/audio/transcriptions` runs |
//! | `LIGHTSPEED_TRANSCRIPTION_AUDIO_SECONDS_MAX` | `600` | longest note the worker sends |
//! | `LIGHTSPEED_TRANSCRIPTION_AUDIO_BYTES_MAX` | `26214400` (25 MiB) | largest note the worker sends |
//!
//! A provider id that names no configured provider is not an error at start: a
//! deployment without voice input needs none, and a voice note then fails its run
//! with `transcription_unavailable`.

use effects::transcriber::{AUDIO_BYTES_MAX_DEFAULT, TranscriptionSettings};

use super::ProvidersError;

pub(super) fn settings(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TranscriptionSettings, ProvidersError> {
    let defaults = TranscriptionSettings::default();
    let number = |var: &'static str, default: u64| -> Result<u64, ProvidersError> {
        match env(var) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| ProvidersError::Invalid {
                    provider: "transcription".into(),
                    field: var.into(),
                    what: "must be a positive whole number".into(),
                }),
        }
    };
    let seconds = number(
        "LIGHTSPEED_TRANSCRIPTION_AUDIO_SECONDS_MAX",
        defaults.duration_ms_max / 1_000,
    )?;
    Ok(TranscriptionSettings {
        provider_id: env("LIGHTSPEED_TRANSCRIPTION_PROVIDER").unwrap_or(defaults.provider_id),
        model: env("LIGHTSPEED_TRANSCRIPTION_MODEL").unwrap_or(defaults.model),
        duration_ms_max: seconds.saturating_mul(1_000),
        audio_bytes_max: number(
            "LIGHTSPEED_TRANSCRIPTION_AUDIO_BYTES_MAX",
            AUDIO_BYTES_MAX_DEFAULT,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let none = |_: &str| None;
        assert_eq!(settings(&none).unwrap(), TranscriptionSettings::default());
        let env = |name: &str| match name {
            "LIGHTSPEED_TRANSCRIPTION_PROVIDER" => Some("groq".to_owned()),
            "LIGHTSPEED_TRANSCRIPTION_AUDIO_SECONDS_MAX" => Some("90".to_owned()),
            _ => None,
        };
        let custom = settings(&env).unwrap();
        assert_eq!(custom.provider_id, "groq");
        assert_eq!(custom.duration_ms_max, 90_000);
        let bad = |name: &str| {
            (name == "LIGHTSPEED_TRANSCRIPTION_AUDIO_BYTES_MAX").then(|| "lots".to_owned())
        };
        let err = settings(&bad).unwrap_err().to_string();
        assert!(
            err.contains("LIGHTSPEED_TRANSCRIPTION_AUDIO_BYTES_MAX"),
            "{err}"
        );
    }
}
