//! HTML to text over html5ever's tokenizer (no tree is built, so it is fast and its memory
//! stays flat on hostile nesting). Script and style are dropped; block elements become line
//! breaks; tables go through `TableBuilder` so values keep their column header. Hidden text
//! is kept: whatever a recipient's client could reveal is inspected.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use super::table::TableBuilder;

/// Deeper tables than this are flattened into their parent (layout tables nest a lot).
const MAX_TABLE_DEPTH: usize = 32;

#[derive(Debug, Default)]
struct State {
    out: String,
    tables: Vec<TableBuilder>,
    /// Inside `<script>` or `<style>`.
    raw: bool,
    pre: usize,
    /// Tables opened beyond [`MAX_TABLE_DEPTH`], flattened into their parent.
    ignored_tables: usize,
}

impl State {
    fn dest(&mut self) -> &mut String {
        match self.tables.last_mut() {
            Some(t) => t.text(),
            None => &mut self.out,
        }
    }

    fn push_text(&mut self, s: &str) {
        let pre = self.pre > 0;
        let dest = self.dest();
        for c in s.chars() {
            if !pre && c.is_whitespace() && c != '\u{a0}' {
                if !dest.ends_with([' ', '\n', '\t']) && !dest.is_empty() {
                    dest.push(' ');
                }
            } else {
                dest.push(c);
            }
        }
    }

    fn newline(&mut self) {
        let dest = self.dest();
        while dest.ends_with(' ') {
            dest.pop();
        }
        if !dest.ends_with('\n') && !dest.is_empty() {
            dest.push('\n');
        }
    }

    fn end_table(&mut self) {
        if let Some(t) = self.tables.pop() {
            let text = t.finish();
            self.newline();
            self.dest().push_str(&text);
        }
    }
}

#[derive(Debug)]
struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut s = self.0.borrow_mut();
        match token {
            Token::CharacterTokens(t) => {
                if !s.raw {
                    s.push_text(&t);
                }
            }
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                match name {
                    "script" | "style" | "noscript" | "template" if start && !tag.self_closing => {
                        s.raw = true;
                        return TokenSinkResult::RawData(if name == "script" {
                            RawKind::ScriptData
                        } else {
                            RawKind::Rawtext
                        });
                    }
                    "script" | "style" | "noscript" | "template" => s.raw = false,
                    "table" if start => {
                        if s.tables.len() < MAX_TABLE_DEPTH {
                            s.tables.push(TableBuilder::default());
                        } else {
                            s.ignored_tables += 1;
                        }
                    }
                    "table" if s.ignored_tables > 0 => s.ignored_tables -= 1,
                    "table" => s.end_table(),
                    "tr" if start => {
                        if let Some(t) = s.tables.last_mut() {
                            t.start_row();
                        }
                    }
                    "tr" => {
                        if let Some(t) = s.tables.last_mut() {
                            t.end_row();
                        }
                    }
                    "td" | "th" if start => {
                        if let Some(t) = s.tables.last_mut() {
                            t.start_cell();
                        }
                    }
                    "td" | "th" => {
                        if let Some(t) = s.tables.last_mut() {
                            t.end_cell();
                        }
                    }
                    "pre" | "textarea" => {
                        if start {
                            s.pre += 1;
                        } else {
                            s.pre = s.pre.saturating_sub(1);
                        }
                        s.newline();
                    }
                    "br" | "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul"
                    | "ol" | "blockquote" | "hr" | "section" | "article" | "header" | "footer"
                    | "address" | "dd" | "dt" | "dl" | "title" | "caption" => {
                        s.newline();
                    }
                    _ => {}
                }
            }
            Token::NullCharacterToken
            | Token::CommentToken(_)
            | Token::DoctypeToken(_)
            | Token::EOFToken
            | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

/// The visible (and hidden) text of an HTML document.
pub fn to_text(html: &str) -> String {
    let sink = Sink(RefCell::new(State::default()));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut state = tokenizer.sink.0.take();
    while !state.tables.is_empty() {
        state.end_table();
    }
    state.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_entities_and_blocks() {
        let t = to_text(
            "<html><head><style>p{color:red}</style><script>var bsn='x';</script></head>\
             <body><p>Beste&nbsp;collega,</p><p>BSN&#58; 123&#x34;56782</p><br>Groet</body></html>",
        );
        assert_eq!(t, "Beste\u{a0}collega,\nBSN: 123456782\nGroet");
    }

    #[test]
    fn tables_pair_headers() {
        let t = to_text(
            "<table><tr><th>Naam</th><th>BSN</th></tr><tr><td>Jansen</td><td>123456782</td></tr></table>",
        );
        assert!(t.contains("Naam: Jansen; BSN: 123456782"), "{t:?}");
    }

    #[test]
    fn unclosed_and_nested_tables() {
        let t = to_text("<table><tr><td>a<table><tr><td>b</td></tr></table><td>c");
        assert!(
            t.contains('a') && t.contains('b') && t.contains('c'),
            "{t:?}"
        );
        let deep = "<table><tr><td>".repeat(5000);
        let _ = to_text(&deep);
    }
}
