//! Tool names per provider surface. OpenAI kinds get the canonical snake_case names;
//! `anthropic:messages` gets the Claude-style names models there are trained on
//! (`Read`, `Write`, `Edit`, `Grep`, `Glob`), and `list_dir` and `apply_patch` under
//! their snake names. Invocation accepts either spelling, so a session whose route
//! changes API kind keeps working.

/// The seven file tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ToolKind {
    ReadFile,
    WriteFile,
    EditFile,
    ApplyPatch,
    Grep,
    Glob,
    ListDir,
}

/// Which names and argument spellings a session's model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `openai:responses`, `openai:completions` and anything else: snake_case.
    OpenAi,
    /// `anthropic:messages`: Claude-style aliases.
    Anthropic,
}

impl Surface {
    pub fn for_api_kind(api_kind: &str) -> Self {
        match api_kind {
            "anthropic:messages" => Self::Anthropic,
            _ => Self::OpenAi,
        }
    }
}

/// Which tools a session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `read_file`, `grep`, `glob`, `list_dir`.
    ReadOnly,
    /// All seven.
    Edit,
}

impl ToolKind {
    pub const ALL: [ToolKind; 7] = [
        Self::ReadFile,
        Self::WriteFile,
        Self::EditFile,
        Self::ApplyPatch,
        Self::Grep,
        Self::Glob,
        Self::ListDir,
    ];

    pub fn canonical_name(self) -> &'static str {
        match self {
            Self::ReadFile => "read_file",
            Self::WriteFile => "write_file",
            Self::EditFile => "edit_file",
            Self::ApplyPatch => "apply_patch",
            Self::Grep => "grep",
            Self::Glob => "glob",
            Self::ListDir => "list_dir",
        }
    }

    pub fn name_for(self, surface: Surface) -> &'static str {
        match (surface, self) {
            (Surface::OpenAi, _) => self.canonical_name(),
            (Surface::Anthropic, Self::ReadFile) => "Read",
            (Surface::Anthropic, Self::WriteFile) => "Write",
            (Surface::Anthropic, Self::EditFile) => "Edit",
            (Surface::Anthropic, Self::Grep) => "Grep",
            (Surface::Anthropic, Self::Glob) => "Glob",
            (Surface::Anthropic, Self::ApplyPatch | Self::ListDir) => self.canonical_name(),
        }
    }

    /// The tool a call names, in either spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.canonical_name() == name || kind.name_for(Surface::Anthropic) == name)
    }

    /// Whether the tool changes files.
    pub fn writes(self) -> bool {
        match self {
            Self::WriteFile | Self::EditFile | Self::ApplyPatch => true,
            Self::ReadFile | Self::Grep | Self::Glob | Self::ListDir => false,
        }
    }

    /// The tools `mode` offers, in a stable order.
    pub fn offered(mode: Mode) -> impl Iterator<Item = ToolKind> {
        Self::ALL
            .into_iter()
            .filter(move |kind| mode == Mode::Edit || !kind.writes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_resolve() {
        for kind in ToolKind::ALL {
            for surface in [Surface::OpenAi, Surface::Anthropic] {
                assert_eq!(ToolKind::from_name(kind.name_for(surface)), Some(kind));
            }
        }
        assert_eq!(ToolKind::from_name("Read"), Some(ToolKind::ReadFile));
        assert_eq!(ToolKind::from_name("read"), None);
        assert_eq!(ToolKind::offered(Mode::ReadOnly).count(), 4);
        assert_eq!(
            Surface::for_api_kind("anthropic:messages"),
            Surface::Anthropic
        );
        assert_eq!(Surface::for_api_kind("openai:responses"), Surface::OpenAi);
    }
}
