//! Markdown to styled ratatui lines, through pulldown-cmark's event stream.
//!
//! Headings, emphasis, inline code, fenced code, lists (nested, numbered, task
//! markers), block quotes, links and rules. Lines are not wrapped here: the
//! transcript paragraph wraps them to the terminal's width.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Styled lines of `text`.
pub(super) fn render(text: &str) -> Vec<Line<'static>> {
    let mut writer = Writer::default();
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(text, options) {
        writer.event(event);
    }
    writer.finish()
}

fn code_style() -> Style {
    Style::default().fg(Color::Yellow)
}

/// A block that prefixes every line inside it.
enum Container {
    Quote,
    /// A list item: its marker goes on the first line, spaces on the rest.
    Item {
        marker: String,
        marked: bool,
    },
}

#[derive(Default)]
struct Writer {
    lines: Vec<Line<'static>>,
    current: Vec<Span<'static>>,
    /// Inline styles, innermost last.
    styles: Vec<Style>,
    containers: Vec<Container>,
    /// The next number of each open list (`None` for bullets), innermost last.
    lists: Vec<Option<u64>>,
    in_code_block: bool,
    /// A block ended: the next block starts after a blank line.
    block_ended: bool,
    link: Option<String>,
}

impl Writer {
    fn style(&self) -> Style {
        self.styles
            .iter()
            .fold(Style::default(), |style, next| style.patch(*next))
    }

    fn push_style(&mut self, style: Style) {
        self.styles.push(style);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) if self.in_code_block => self.code_text(&text),
            Event::Text(text) => self.text(&text, self.style()),
            Event::Code(code) => self.text(&code, self.style().patch(code_style())),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math, code_style()),
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html, self.style()),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]"), self.style()),
            Event::SoftBreak => self.text(" ", self.style()),
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.begin_block();
                self.text(&"─".repeat(24), Style::default().fg(Color::DarkGray));
                self.end_block();
            }
            Event::TaskListMarker(done) => {
                let marker = if done { "[x] " } else { "[ ] " };
                self.text(marker, Style::default().fg(Color::Cyan));
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.begin_block(),
            Tag::Heading { level, .. } => {
                self.begin_block();
                let style = match level {
                    HeadingLevel::H1 => Style::default()
                        .fg(Color::Magenta)
                        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                    _ => Style::default()
                        .fg(Color::Magenta)
                        .add_modifier(Modifier::BOLD),
                };
                self.push_style(style);
            }
            Tag::BlockQuote(_) => {
                self.begin_block();
                self.containers.push(Container::Quote);
                self.push_style(Style::default().fg(Color::Gray));
            }
            Tag::CodeBlock(kind) => {
                self.begin_block();
                if let CodeBlockKind::Fenced(lang) = kind
                    && !lang.is_empty()
                {
                    let label = Style::default().fg(Color::DarkGray);
                    self.text(&format!("```{lang}"), label);
                    self.flush();
                }
                self.in_code_block = true;
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.begin_block();
                } else {
                    self.flush();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let marker = match self.lists.last_mut() {
                    Some(Some(next)) => {
                        let marker = format!("{next}. ");
                        *next += 1;
                        marker
                    }
                    Some(None) | None => "• ".to_owned(),
                };
                self.containers.push(Container::Item {
                    marker,
                    marked: false,
                });
            }
            Tag::Emphasis => self.push_style(Style::default().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::default().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => {
                self.push_style(Style::default().add_modifier(Modifier::CROSSED_OUT));
            }
            Tag::Link { dest_url, .. } => {
                self.link = Some(dest_url.to_string());
                self.push_style(
                    Style::default()
                        .fg(Color::Blue)
                        .add_modifier(Modifier::UNDERLINED),
                );
            }
            Tag::Image { dest_url, .. } => {
                self.text("[image: ", self.style());
                self.link = Some(dest_url.to_string());
                self.push_style(Style::default());
            }
            // Rendered as their text: tables are not enabled, the rest is rare.
            Tag::HtmlBlock
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Table(_)
            | Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Superscript
            | Tag::Subscript
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_block(),
            TagEnd::Heading(_) => {
                self.styles.pop();
                self.end_block();
            }
            TagEnd::BlockQuote(_) => {
                self.styles.pop();
                self.flush();
                self.containers.pop();
                self.block_ended = true;
            }
            TagEnd::CodeBlock => {
                self.in_code_block = false;
                self.end_block();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.end_block();
                }
            }
            TagEnd::Item => {
                self.flush();
                // An empty item still shows its marker.
                if let Some(Container::Item { marked: false, .. }) = self.containers.last() {
                    self.flush_line(true);
                }
                self.containers.pop();
                // Blocks inside an item do not put blank lines between items.
                self.block_ended = false;
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.styles.pop();
            }
            TagEnd::Link => {
                self.styles.pop();
                if let Some(url) = self.link.take() {
                    let shown = self.current_text_ends_with(&url);
                    if !shown && !url.is_empty() {
                        self.text(&format!(" ({url})"), Style::default().fg(Color::DarkGray));
                    }
                }
            }
            TagEnd::Image => {
                self.styles.pop();
                self.link = None;
                self.text("]", self.style());
            }
            TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::Table
            | TagEnd::TableHead
            | TagEnd::TableRow
            | TagEnd::TableCell
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    fn current_text_ends_with(&self, suffix: &str) -> bool {
        let text: String = self
            .current
            .iter()
            .map(|span| span.content.as_ref())
            .collect();
        text.ends_with(suffix)
    }

    fn begin_block(&mut self) {
        self.flush();
        if std::mem::take(&mut self.block_ended) && !self.lines.is_empty() {
            let prefix = self.prefix(true);
            self.lines.push(Line::from(prefix));
        }
    }

    fn end_block(&mut self) {
        self.flush();
        self.block_ended = true;
    }

    /// Text that may hold line breaks (HTML, inline code never does).
    fn text(&mut self, text: &str, style: Style) {
        for (index, part) in text.split('\n').enumerate() {
            if index > 0 {
                self.flush();
            }
            if !part.is_empty() {
                self.current.push(Span::styled(part.to_owned(), style));
            }
        }
    }

    fn code_text(&mut self, text: &str) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        for line in text.split('\n') {
            self.current
                .push(Span::styled(format!("  {line}"), code_style()));
            self.flush_line(true);
        }
    }

    /// Ends the current line if it has text.
    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.flush_line(false);
        }
    }

    fn flush_line(&mut self, keep_empty: bool) {
        let spans = std::mem::take(&mut self.current);
        if spans.is_empty() && !keep_empty {
            return;
        }
        let mut line = self.prefix(false);
        line.extend(spans);
        self.lines.push(Line::from(line));
    }

    /// The prefix of the next line; `blank` for a separator line (no markers).
    fn prefix(&mut self, blank: bool) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for container in &mut self.containers {
            match container {
                Container::Quote => {
                    spans.push(Span::styled("│ ", Style::default().fg(Color::DarkGray)));
                }
                Container::Item { marker, marked } => {
                    if blank || *marked {
                        spans.push(Span::raw(" ".repeat(marker.chars().count())));
                    } else {
                        *marked = true;
                        spans.push(Span::styled(
                            marker.clone(),
                            Style::default().fg(Color::Cyan),
                        ));
                    }
                }
            }
        }
        spans
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        self.flush();
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Vec<String> {
        render(text)
            .iter()
            .map(|line| line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn paragraphs_headings_and_inline_styles() {
        let lines = render("# Title\n\nSome *em* and **strong** and `code`.");
        assert_eq!(
            plain("# Title\n\nSome *em* and **strong** and `code`."),
            ["Title", "", "Some em and strong and code."]
        );
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
        let code = lines[2].spans.iter().find(|s| s.content == "code").unwrap();
        assert_eq!(code.style.fg, Some(Color::Yellow));
    }

    #[test]
    fn lists_nest_and_number() {
        assert_eq!(
            plain("- one\n- two\n  - inner\n\n1. first\n2. second"),
            ["• one", "• two", "  • inner", "", "1. first", "2. second"]
        );
    }

    #[test]
    fn empty_items_keep_their_markers() {
        assert_eq!(plain("1.\n2. two"), ["1. ", "2. two"]);
    }

    #[test]
    fn code_blocks_keep_their_lines() {
        assert_eq!(
            plain("```rust\nfn main() {\n    x();\n}\n```\nafter"),
            ["```rust", "  fn main() {", "      x();", "  }", "", "after"]
        );
    }

    #[test]
    fn quotes_links_and_rules() {
        assert_eq!(
            plain("> quoted\n> text\n\n[site](https://x.dev) and <https://y.dev>\n\n---"),
            [
                "│ quoted text",
                "",
                "site (https://x.dev) and https://y.dev",
                "",
                "────────────────────────"
            ]
        );
    }

    #[test]
    fn unfinished_markdown_renders_while_streaming() {
        assert_eq!(plain("**bold start"), ["**bold start"]);
        assert_eq!(plain("```\npartial code"), ["  partial code"]);
    }
}
