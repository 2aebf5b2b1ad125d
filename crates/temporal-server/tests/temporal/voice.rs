//! Voice input through Temporal: a run whose input holds a voice note waits for the
//! `transcribe_input` activity, which sends the audio to the provider's
//! transcription endpoint (the fake provider's) and stores the text; the run then
//! starts with the transcript, which names the audio, and the model is sent text.

use engine::SubmissionId;
use engine::core::command::CoreCommand;
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::store::BlobStore;
use serde_json::json;

use crate::harness::{Env, events, fast_settings, history_payloads};

const VOICE_NOTE: &[u8] = include_bytes!("../../../../interop/fixtures/audio/voice-note.ogg");
const SAID: &str = "turn on the lights in the kitchen";

#[tokio::test(flavor = "multi_thread")]
async fn a_voice_note_is_transcribed_by_an_activity_before_its_run() {
    let script = json!({"turns": [{"text": "The kitchen lights are on."}]});
    let Some(env) = Env::start("voice", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-voice").await;
    let audio = env.store.put(VOICE_NOTE.to_vec()).await.unwrap();
    let input = vec![ItemSpec::new(ItemKind::UserAudio, audio.clone(), 0)];
    let reply = env
        .admit(
            &session,
            CoreCommand::RequestRun {
                submission_id: SubmissionId::new("voice-1").unwrap(),
                input,
                overrides: Default::default(),
            },
        )
        .await;
    let run = reply.run_id.expect("a run id");
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);

    let log = events(&env.log(&session).await);
    let transcribed = log
        .iter()
        .find_map(|event| match event {
            CoreEvent::RunInputTranscribed(e) => Some(e.clone()),
            _ => None,
        })
        .expect("run.input_transcribed");
    let transcript = &transcribed.transcripts[0].item;
    assert_eq!(transcript.source_ref.as_ref(), Some(&audio));
    let text = env.store.get(&transcript.content_ref).await.unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), SAID);
    // The model was sent the transcript, never the audio.
    let generation = env
        .provider
        .requests()
        .into_iter()
        .find(|request| request.path == "/v1/responses")
        .expect("a generation request");
    let body = generation.body.to_string();
    assert!(body.contains(SAID), "{body}");
    assert!(!body.contains("audio/ogg"), "{body}");
    // The audio went through the activity, and only its ref crossed the seam.
    let history = env.history(&session).await;
    let transcriptions: Vec<_> = history_payloads(&history)
        .into_iter()
        .filter(|p| p.activity_type == "transcribe_input")
        .collect();
    assert_eq!(
        transcriptions.len(),
        2,
        "input and result: {transcriptions:?}"
    );
    for payload in &transcriptions {
        assert!(payload.bytes < 2_048, "{payload:?}");
    }
    env.record_history(&session, "voice-note").await;
    env.shutdown().await;
}
