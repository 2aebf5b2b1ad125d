//! `session/compact` and `session/skills/*`: what enters a session's context besides
//! its transcript, on a client's request.
//!
//! Skills are found by effects' `context_sources::skills::discover`, the same code
//! the generation's skill catalog uses, so a listed skill is one the model sees. An
//! activated skill is a keyed instruction item `skill:NAME` holding its `SKILL.md`
//! body as read at activation (activate again to pick up an edit).

use api::ApiError;
use api::types::context::*;
use api_projection::blobs::ContentGate;
use effects::context_sources::skills::{Skill, discover};
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::core::control::{ControlState, Lifecycle};
use engine::store::BlobStore;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

/// Bytes of a skill's body pinned by `session/skills/activate`.
pub const SKILL_BODY_BYTES_MAX: usize = 64 * 1024;

fn skill_key(name: &str) -> String {
    format!("skill:{name}")
}

fn closed(session: &str) -> ApiError {
    ApiError::conflict(format!("session {session} is closed")).with_reason("sessionClosed")
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn compact_session(
        &self,
        universe_id: &str,
        params: SessionCompactParams,
    ) -> Result<SessionCompactResult, ApiError> {
        if params
            .instruction
            .as_ref()
            .is_some_and(|text| text.len() > COMPACT_INSTRUCTION_BYTES_MAX)
        {
            return Err(ApiError::invalid_params(format!(
                "instruction is longer than {COMPACT_INSTRUCTION_BYTES_MAX} bytes"
            ))
            .with_reason("inputTooLarge"));
        }
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        if control.lifecycle == Lifecycle::Closed {
            return Err(closed(&params.session_id));
        }
        let instruction = match params.instruction.filter(|text| !text.trim().is_empty()) {
            Some(text) => Some(self.put_text(universe_id, text).await?.content_ref),
            None => None,
        };
        let admission = self
            .admit(
                universe_id,
                &session,
                CoreCommand::RequestCompaction { instruction },
            )
            .await?;
        let control = self.control(universe_id, &session).await?;
        Ok(SessionCompactResult {
            session_id: session.to_string(),
            compaction: control.compaction.requested_total,
            cursor: admission.head,
        })
    }

    pub(crate) async fn list_skills(
        &self,
        universe_id: &str,
        params: api::types::session::SessionRef,
    ) -> Result<SessionSkillsListResult, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let skills = self.skills(universe_id, &session).await?;
        Ok(SessionSkillsListResult {
            skills: skills
                .iter()
                .map(|skill| skill_view(skill, &control))
                .collect(),
        })
    }

    pub(crate) async fn activate_skill(
        &self,
        universe_id: &str,
        params: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        if control.lifecycle == Lifecycle::Closed {
            return Err(closed(&params.session_id));
        }
        let skill = self.skill(universe_id, &session, &params.name).await?;
        let body = effects::context_sources::clipped(&skill.body, SKILL_BODY_BYTES_MAX);
        let text = format!(
            "<skill name=\"{}\" source=\"{}\">\n{body}\n</skill>",
            skill.name, skill.path
        );
        let item = self.put_text(universe_id, text).await?;
        let item = ItemSpec::new(
            ItemKind::Instructions,
            item.content_ref,
            item.token_estimate,
        );
        let command = CoreCommand::UpsertContextItem {
            key: skill_key(&skill.name),
            item,
        };
        self.admit(universe_id, &session, command).await?;
        let control = self.control(universe_id, &session).await?;
        Ok(skill_view(&skill, &control))
    }

    pub(crate) async fn deactivate_skill(
        &self,
        universe_id: &str,
        params: SessionSkillParams,
    ) -> Result<SkillView, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let skill = self.skill(universe_id, &session, &params.name).await?;
        let key = skill_key(&skill.name);
        if control.context.keyed.contains_key(&key) {
            self.admit(
                universe_id,
                &session,
                CoreCommand::RemoveContextItem { key },
            )
            .await?;
        }
        let control = self.control(universe_id, &session).await?;
        Ok(skill_view(&skill, &control))
    }

    async fn skills(&self, universe_id: &str, session: &SessionId) -> Result<Vec<Skill>, ApiError> {
        let store = self.store(universe_id).await?;
        // A listing reads every SKILL.md once: no cache to keep between calls.
        let parsed = effects::context_sources::skills::ParsedSkills::default();
        discover(&*store, session, &self.skill_roots, &parsed)
            .await
            .map_err(|err| internal("finding the session's skills", err))
    }

    async fn skill(
        &self,
        universe_id: &str,
        session: &SessionId,
        name: &str,
    ) -> Result<Skill, ApiError> {
        self.skills(universe_id, session)
            .await?
            .into_iter()
            .find(|skill| skill.name == name)
            .ok_or_else(|| {
                ApiError::not_found(format!("no skill {name:?} in the session's mounts"))
                    .with_reason("skillNotFound")
            })
    }

    /// Stores `text` once the universe's stored-bytes quota has room for it.
    pub(crate) async fn put_text(
        &self,
        universe_id: &str,
        text: String,
    ) -> Result<ItemSpec, ApiError> {
        let store = self.store(universe_id).await?;
        let bytes = text.into_bytes();
        self.content_gate(&*store).admit(bytes.len() as u64).await?;
        let token_estimate = estimate_tokens(&bytes);
        let content_ref = store
            .put(bytes)
            .await
            .map_err(|err| internal("storing text", err))?;
        Ok(ItemSpec::new(
            ItemKind::Instructions,
            content_ref,
            token_estimate,
        ))
    }
}

fn skill_view(skill: &Skill, control: &ControlState) -> SkillView {
    SkillView {
        name: skill.name.clone(),
        description: skill.description.clone(),
        path: skill.path.clone(),
        active: control.context.keyed.contains_key(&skill_key(&skill.name)),
    }
}
