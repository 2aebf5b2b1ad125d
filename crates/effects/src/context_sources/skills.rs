//! Skills in the Agent Skills format: a folder holding `SKILL.md` (YAML front matter
//! with `name` and `description`, then the instructions) and any files it refers to.
//! Skills are found under [`SkillRoots`] of every mount of the session
//! (`/workspace/.agents/skills/review/SKILL.md`). The context holds only a bounded
//! catalog of names, descriptions and paths (`source:skills:catalog`); the model reads
//! a skill's `SKILL.md` when a task calls for it, and a client may pin a skill's body
//! (`session/skills/activate`).

use std::sync::Arc;

use engine::SessionId;
use engine::core::context::ItemKind;
use engine::core::refresh::SourcedItem;
use engine::store::BlobStore;
use futures::future::BoxFuture;
use serde::Deserialize;
use vfs::{MountTable, VfsCatalog, VfsPath};

use super::{
    ContextSource, SourceScope, full_prefix, kept, kept_while_away, now_ms, online_attachments,
    stored_text,
};
use crate::adapter::AdapterError;
use crate::env::EnvTools;
use crate::vfs_tools::storage;
use env_registry::{Attachment, EnvCatalog};

/// Skills listed per session; further ones are left out of the catalog.
pub const SKILLS_MAX: usize = 64;
/// A `SKILL.md` larger than this is not read (it would not be a catalog entry anyway).
pub const SKILL_FILE_BYTES_MAX: u64 = 64 * 1024;
/// Longest name (the Agent Skills format's bound).
pub const SKILL_NAME_CHARS_MAX: usize = 64;
/// Longest description (the format's bound).
pub const SKILL_DESCRIPTION_CHARS_MAX: usize = 1_024;
/// Files looked at under one root while searching for skill folders.
const SCANNED_FILES_MAX: usize = 10_000;

/// Directories, relative to each mount's root, whose sub-folders are skills.
/// Default `.agents/skills`, `.claude/skills` and `skills` (`LIGHTSPEED_SKILL_ROOTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRoots(Vec<VfsPath>);

impl Default for SkillRoots {
    fn default() -> Self {
        Self::parse(".agents/skills,.claude/skills,skills").unwrap_or(Self(Vec::new()))
    }
}

impl SkillRoots {
    /// Comma-separated relative directories; at most 8.
    pub fn parse(list: &str) -> Result<Self, String> {
        let roots = list
            .split(',')
            .map(str::trim)
            .filter(|root| !root.is_empty())
            .map(|root| {
                VfsPath::parse(root.trim_matches('/'))
                    .map_err(|err| format!("skill root {root:?}: {}", err.reason()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if roots.len() > 8 {
            return Err(format!("{} skill roots, at most 8", roots.len()));
        }
        Ok(Self(roots))
    }
}

/// One skill found in a session's mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// Session path of its `SKILL.md`.
    pub path: String,
    /// `SKILL.md` after its front matter.
    pub body: String,
}

#[derive(Deserialize)]
struct FrontMatter {
    name: String,
    description: String,
}

/// Parses a `SKILL.md`: front matter between `---` lines, then the body. `None` when
/// it is not a skill the format allows (missing fields, a name not matching its
/// folder, bounds broken).
pub fn parse_skill(folder: &str, text: &str) -> Option<(String, String, String)> {
    let rest = text.strip_prefix("---")?.trim_start_matches(['\r', ' ']);
    let rest = rest.strip_prefix('\n')?;
    let end = rest.find("\n---")?;
    let (yaml, after) = rest.split_at(end);
    let body = after["\n---".len()..]
        .trim_start_matches(['-', '\r', ' '])
        .trim_start_matches('\n');
    let front: FrontMatter = serde_yaml_ng::from_str(yaml).ok()?;
    let name = front.name.trim();
    let description = front.description.trim();
    let valid_name = (1..=SKILL_NAME_CHARS_MAX).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name == folder;
    let valid_description =
        (1..=SKILL_DESCRIPTION_CHARS_MAX).contains(&description.chars().count());
    (valid_name && valid_description).then(|| {
        (
            name.to_owned(),
            description.replace(['\n', '\r'], " "),
            body.to_owned(),
        )
    })
}

/// `SKILL.md` files already parsed, by folder name and content: a blob is immutable,
/// so the catalog, rebuilt before every generation, reads and parses each skill once
/// per process rather than once per turn. At most [`PARSED_SKILLS_MAX`] entries.
pub struct ParsedSkills(std::sync::Mutex<lru::LruCache<(String, engine::BlobRef), ParsedSkill>>);

/// Entries [`ParsedSkills`] keeps (each at most a 64 KiB body).
pub const PARSED_SKILLS_MAX: usize = 128;

type ParsedSkill = Option<(String, String, String)>;

impl Default for ParsedSkills {
    fn default() -> Self {
        let capacity =
            std::num::NonZeroUsize::new(PARSED_SKILLS_MAX).unwrap_or(std::num::NonZeroUsize::MIN);
        Self(std::sync::Mutex::new(lru::LruCache::new(capacity)))
    }
}

impl std::fmt::Debug for ParsedSkills {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParsedSkills")
    }
}

impl ParsedSkills {
    async fn parse<S: BlobStore>(
        &self,
        store: &S,
        folder: &str,
        blob: &engine::BlobRef,
    ) -> Result<ParsedSkill, AdapterError> {
        let key = (folder.to_owned(), blob.clone());
        let cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(parsed) = cached {
            return Ok(parsed);
        }
        let bytes = store.get(blob).await?;
        let parsed = parse_skill(folder, &String::from_utf8_lossy(&bytes));
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(key, parsed.clone());
        Ok(parsed)
    }
}

/// Every skill under `roots` of the session's mounts, by mount then root then name;
/// a name found twice keeps its first (nearer mounts come first in path order).
pub async fn discover<S: VfsCatalog + BlobStore>(
    store: &S,
    session: &SessionId,
    roots: &SkillRoots,
    parsed: &ParsedSkills,
) -> Result<Vec<Skill>, AdapterError> {
    let table = MountTable::load(store, session).await.map_err(storage)?;
    let mut skills: Vec<Skill> = Vec::new();
    for mount in table.mounts() {
        let tree = match vfs::mount::open(store, store, mount).await {
            Ok(state) => state.tree,
            Err(vfs::VfsError::Store(err)) => return Err(AdapterError::Store(err)),
            Err(_) => continue,
        };
        for root in &roots.0 {
            let depth = root.depth() + 2;
            let candidates: Vec<_> = tree
                .files_below(root)
                .take(SCANNED_FILES_MAX)
                .filter(|(path, _)| path.depth() == depth && path.file_name() == Some("SKILL.md"))
                .map(|(path, entry)| (path.clone(), entry.clone()))
                .collect();
            for (path, entry) in candidates {
                if skills.len() >= SKILLS_MAX {
                    return Ok(skills);
                }
                let folder = path
                    .parent()
                    .and_then(|parent| parent.file_name().map(str::to_owned))
                    .unwrap_or_default();
                if entry.size_bytes > SKILL_FILE_BYTES_MAX
                    || skills.iter().any(|skill| skill.name == folder)
                {
                    continue;
                }
                let Some((name, description, body)) =
                    parsed.parse(store, &folder, &entry.blob).await?
                else {
                    continue;
                };
                let path = match mount.path.as_str() {
                    "/" => format!("/{}", path.as_str()),
                    base => format!("{base}/{}", path.as_str()),
                };
                skills.push(Skill {
                    name,
                    description,
                    path,
                    body,
                });
            }
        }
    }
    Ok(skills)
}

/// The catalog item's text.
pub fn catalog_text(skills: &[Skill]) -> String {
    let mut text = String::from(
        "<skills>\nSkills are folders of instructions and resources for particular tasks. \
         When a task matches a skill's description, read its SKILL.md (at the path given) \
         before you start, and follow it; files it mentions are relative to its folder.\n",
    );
    for skill in skills {
        text.push_str(&format!(
            "- {}: {} ({})\n",
            skill.name, skill.description, skill.path
        ));
    }
    text.push_str("</skills>");
    text
}

/// The `source:skills:` namespace: the catalog of the skills in the session's mounts
/// (`source:skills:catalog`, read before every generation), and one per attached
/// environment (`source:skills:env:NAME`, read from its daemon when a run starts).
#[derive(Debug, Clone, Default)]
pub struct SkillCatalog {
    roots: SkillRoots,
    env: EnvTools,
    parsed: Arc<ParsedSkills>,
}

impl SkillCatalog {
    pub const NAMESPACE: &'static str = "skills:";

    pub fn new(roots: SkillRoots, env: EnvTools) -> Self {
        Self {
            roots,
            env,
            parsed: Arc::default(),
        }
    }

    fn env_key(name: &str) -> String {
        format!("{}env:{name}", full_prefix(Self::NAMESPACE))
    }

    /// Skills under the roots of an environment's directory.
    async fn env_skills<S: EnvCatalog + BlobStore>(
        &self,
        scope: &SourceScope<'_, S>,
        attachment: &Attachment,
        now_ms: u64,
    ) -> Result<Vec<Skill>, AdapterError> {
        let mut skills: Vec<Skill> = Vec::new();
        let store = &**scope.store;
        for root in &self.roots.0 {
            let paths = self
                .env
                .glob_paths(
                    store,
                    scope.session,
                    attachment,
                    root.as_str(),
                    "*/SKILL.md",
                    64,
                    now_ms,
                )
                .await?;
            for path in paths {
                if skills.len() >= SKILLS_MAX {
                    return Ok(skills);
                }
                let folder = path.rsplit('/').nth(1).unwrap_or_default().to_owned();
                if skills.iter().any(|skill| skill.name == folder) {
                    continue;
                }
                let text = self
                    .env
                    .read_text(
                        store,
                        scope.session,
                        attachment,
                        &path,
                        SKILL_FILE_BYTES_MAX,
                        now_ms,
                    )
                    .await?;
                let Some((name, description, body)) =
                    text.and_then(|text| parse_skill(&folder, &text))
                else {
                    continue;
                };
                skills.push(Skill {
                    name,
                    description,
                    path: format!("/env/{}/{path}", attachment.name.as_str()),
                    body,
                });
            }
        }
        Ok(skills)
    }

    async fn environments<S: EnvCatalog + BlobStore>(
        &self,
        scope: &SourceScope<'_, S>,
    ) -> Result<Vec<SourcedItem>, AdapterError> {
        let prefix = Self::env_key("");
        if !scope.run_start() {
            return Ok(kept(scope, &prefix));
        }
        let now_ms = now_ms();
        let online = online_attachments(scope, now_ms).await?;
        let mut items = Vec::new();
        for attachment in &online {
            let key = Self::env_key(attachment.name.as_str());
            match self.env_skills(scope, attachment, now_ms).await {
                Ok(skills) if skills.is_empty() => {}
                Ok(skills) => {
                    let spec =
                        stored_text(scope, &key, ItemKind::Catalog, catalog_text(&skills)).await?;
                    items.push(SourcedItem { key, spec });
                }
                Err(AdapterError::Store(err)) => return Err(AdapterError::Store(err)),
                // The daemon went away meanwhile: keep what was read before.
                Err(_) => items.extend(kept(scope, &key)),
            }
        }
        items.extend(kept_while_away(scope, &prefix, &online, Self::env_key));
        Ok(items)
    }

    pub fn catalog_key() -> String {
        format!("{}catalog", full_prefix(Self::NAMESPACE))
    }
}

impl<S: VfsCatalog + EnvCatalog + BlobStore + 'static> ContextSource<S> for SkillCatalog {
    fn namespace(&self) -> &'static str {
        Self::NAMESPACE
    }

    fn resolve<'a>(
        &'a self,
        scope: &'a SourceScope<'a, S>,
    ) -> BoxFuture<'a, Result<Option<Vec<SourcedItem>>, AdapterError>> {
        Box::pin(async move {
            let skills = discover(&**scope.store, scope.session, &self.roots, &self.parsed).await?;
            let mut items = self.environments(scope).await?;
            if !skills.is_empty() {
                let key = Self::catalog_key();
                let spec =
                    stored_text(scope, &key, ItemKind::Catalog, catalog_text(&skills)).await?;
                items.push(SourcedItem { key, spec });
            }
            Ok(Some(items))
        })
    }
}

/// Shared by hosts that build the standard sources.
pub fn skill_catalog<S: VfsCatalog + EnvCatalog + BlobStore + 'static>(
    roots: SkillRoots,
    env: EnvTools,
) -> Arc<dyn ContextSource<S>> {
    Arc::new(SkillCatalog::new(roots, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_body() {
        let text = "---\nname: review\ndescription: >\n  Reviews a change\n  for bugs.\n---\n# Review\nRead the diff.\n";
        let (name, description, body) = parse_skill("review", text).unwrap();
        assert_eq!(name, "review");
        assert_eq!(description, "Reviews a change for bugs.");
        assert_eq!(body, "# Review\nRead the diff.\n");
    }

    #[test]
    fn what_the_format_refuses() {
        let skill = |folder: &str, name: &str, description: &str| {
            parse_skill(
                folder,
                &format!("---\nname: {name}\ndescription: {description}\n---\nbody"),
            )
        };
        assert!(skill("review", "review", "ok").is_some());
        assert!(
            skill("other", "review", "ok").is_none(),
            "name must match its folder"
        );
        assert!(skill("Review", "Review", "ok").is_none(), "lowercase only");
        assert!(skill("a--b", "a--b", "ok").is_none());
        assert!(
            skill("review", "review", "''").is_none(),
            "a description is required"
        );
        let long = "x".repeat(SKILL_DESCRIPTION_CHARS_MAX + 1);
        assert!(skill("review", "review", &long).is_none());
        assert!(parse_skill("review", "no front matter").is_none());
    }

    #[test]
    fn roots_parse_and_are_bounded() {
        assert_eq!(SkillRoots::default().0.len(), 3);
        assert!(SkillRoots::parse("../up").is_err());
        assert!(SkillRoots::parse("a,b,c,d,e,f,g,h,i").is_err());
    }
}
