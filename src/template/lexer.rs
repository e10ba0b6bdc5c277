//! Tokenizer for Go template text, following `text/template/parse/lex.go`:
//! text between `{{ }}` actions, trim markers `{{- ` and ` -}}`, comments
//! `{{/* */}}`, and the tokens inside actions.
//!
//! Invariant: every loop advances `pos` or returns, so lexing any input ends.

/// One token; `start..end` is its byte range in the source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
    /// Whether whitespace precedes the token inside an action (decides
    /// whether `.Field` continues the previous operand).
    pub space_before: bool,
}

/// Token kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// Literal text (already trimmed by trim markers).
    Text,
    LeftDelim,
    RightDelim,
    /// A function name.
    Ident,
    /// `.Name` (one element).
    Field,
    /// `$name` or `$`.
    Variable,
    Dot,
    Bool(bool),
    Nil,
    /// Numeric literal, unparsed.
    Number,
    /// Decoded string literal (quoted or raw).
    Str(String),
    /// Character constant, as its code point.
    CharConst(i64),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// Any other printable ASCII character (`,` among others).
    Char(char),
    Keyword(Kw),
    Eof,
}

/// Action keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// A lexical error at byte offset `pos`.
#[derive(Debug, PartialEq)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// Tokenizes `src`; the last token is always [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        toks: Vec::new(),
    };
    lx.run()?;
    let end = src.len();
    lx.toks.push(Token {
        kind: Tok::Eof,
        start: end,
        end,
        space_before: false,
    });
    Ok(lx.toks)
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    toks: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn err<T>(&self, pos: usize, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            pos,
            message: message.into(),
        })
    }

    fn push(&mut self, kind: Tok, start: usize, space_before: bool) {
        self.toks.push(Token {
            kind,
            start,
            end: self.pos,
            space_before,
        });
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_leading = false;
        loop {
            let mut start = self.pos;
            if trim_leading {
                while start < self.b.len() && is_space(self.b[start]) {
                    start += 1;
                }
            }
            let open = self.rest().find("{{").map(|i| self.pos + i);
            let text_end = open.unwrap_or(self.b.len());
            let trim_left = open.is_some_and(|o| {
                self.b.get(o + 2) == Some(&b'-') && self.b.get(o + 3).is_some_and(|&c| is_space(c))
            });
            let mut end = text_end.max(start);
            if trim_left {
                while end > start && is_space(self.b[end - 1]) {
                    end -= 1;
                }
            }
            if end > start {
                self.toks.push(Token {
                    kind: Tok::Text,
                    start,
                    end,
                    space_before: false,
                });
            }
            let Some(open) = open else { return Ok(()) };
            self.pos = open + if trim_left { 4 } else { 2 };
            if self.rest().starts_with("/*") {
                trim_leading = self.comment(open)?;
                continue;
            }
            self.pos = open + 2;
            self.push(Tok::LeftDelim, open, false);
            if trim_left {
                self.pos += 2;
            }
            trim_leading = self.action(open)?;
        }
    }

    /// Lexes `/* ... */` up to and including the closing delimiter.
    fn comment(&mut self, open: usize) -> Result<bool, LexError> {
        let Some(close) = self.rest().find("*/") else {
            return self.err(open, "unclosed comment");
        };
        self.pos += close + 2;
        if self.rest().starts_with(" -}}") {
            self.pos += 4;
            Ok(true)
        } else if self.rest().starts_with("}}") {
            self.pos += 2;
            Ok(false)
        } else {
            self.err(open, "comment ends before closing delimiter")
        }
    }

    /// Lexes the inside of an action through `}}`; returns whether the
    /// closing delimiter carried a trim marker.
    fn action(&mut self, open: usize) -> Result<bool, LexError> {
        let mut depth = 0usize;
        loop {
            let space_start = self.pos;
            while self.pos < self.b.len() && is_space(self.b[self.pos]) {
                self.pos += 1;
            }
            let space = self.pos > space_start;
            let trim = space && self.rest().starts_with("-}}");
            if trim || self.rest().starts_with("}}") {
                if depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                let start = self.pos;
                self.pos += if trim { 3 } else { 2 };
                self.push(Tok::RightDelim, start, space);
                return Ok(trim);
            }
            let start = self.pos;
            let Some(c) = self.rest().chars().next() else {
                return self.err(open, "unclosed action");
            };
            self.pos += c.len_utf8();
            let kind = match c {
                '=' => Tok::Assign,
                ':' => {
                    if self.b.get(self.pos) != Some(&b'=') {
                        return self.err(start, "expected :=");
                    }
                    self.pos += 1;
                    Tok::Declare
                }
                '|' => Tok::Pipe,
                '"' => Tok::Str(self.quoted(start)?),
                '`' => Tok::Str(self.raw(start)?),
                '\'' => Tok::CharConst(self.char_const(start)?),
                '$' => {
                    self.word();
                    self.check_terminator()?;
                    Tok::Variable
                }
                '.' if !self.b.get(self.pos).is_some_and(u8::is_ascii_digit) => {
                    if self.word() == 0 {
                        Tok::Dot
                    } else {
                        self.check_terminator()?;
                        Tok::Field
                    }
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos = start;
                    self.number()?;
                    Tok::Number
                }
                '(' => {
                    depth += 1;
                    Tok::LeftParen
                }
                ')' => {
                    if depth == 0 {
                        return self.err(start, "unexpected right paren");
                    }
                    depth -= 1;
                    Tok::RightParen
                }
                c if is_alnum(c) => {
                    self.word();
                    self.check_terminator()?;
                    keyword(&self.src[start..self.pos])
                }
                c if c.is_ascii_graphic() => Tok::Char(c),
                c => {
                    return self.err(
                        start,
                        format!("unrecognized character in action: U+{:04X}", c as u32),
                    )
                }
            };
            self.push(kind, start, space);
        }
    }

    /// Consumes alphanumerics; returns how many bytes.
    fn word(&mut self) -> usize {
        let len: usize = self
            .rest()
            .chars()
            .take_while(|&c| is_alnum(c))
            .map(char::len_utf8)
            .sum();
        self.pos += len;
        len
    }

    /// Go requires a word to be followed by space, `.`, `,`, `|`, `:`, `(`,
    /// `)`, the end of input or the closing delimiter.
    fn check_terminator(&self) -> Result<(), LexError> {
        match self.rest().chars().next() {
            None => Ok(()),
            Some(' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(') => Ok(()),
            Some(_) if self.rest().starts_with("}}") => Ok(()),
            Some(c) => self.err(self.pos, format!("bad character U+{:04X} '{c}'", c as u32)),
        }
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let accept = |lx: &mut Self, set: &str| -> bool {
            match lx.b.get(lx.pos) {
                Some(&c) if set.as_bytes().contains(&c) => {
                    lx.pos += 1;
                    true
                }
                _ => false,
            }
        };
        let run = |lx: &mut Self, set: &str| while accept(lx, set) {};
        accept(self, "+-");
        let mut digits = "0123456789_";
        if accept(self, "0") {
            if accept(self, "xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if accept(self, "oO") {
                digits = "01234567_";
            } else if accept(self, "bB") {
                digits = "01_";
            }
        }
        run(self, digits);
        if accept(self, ".") {
            run(self, digits);
        }
        if digits.len() == 11 && accept(self, "eE") {
            accept(self, "+-");
            run(self, "0123456789_");
        }
        if digits.len() == 23 && accept(self, "pP") {
            accept(self, "+-");
            run(self, "0123456789_");
        }
        accept(self, "i");
        if let Some(c) = self.rest().chars().next() {
            if is_alnum(c) {
                self.pos += c.len_utf8();
                return self.err(
                    start,
                    format!("bad number syntax: {:?}", &self.src[start..self.pos]),
                );
            }
        }
        Ok(())
    }

    /// Scans a quoted literal ending in `quote`; returns its raw body.
    fn scan_quoted(&mut self, start: usize, quote: u8, what: &str) -> Result<&'a str, LexError> {
        let src: &'a str = self.src;
        let body_start = self.pos;
        loop {
            match self.b.get(self.pos) {
                Some(b'\\') if !matches!(self.b.get(self.pos + 1), None | Some(b'\n')) => {
                    self.pos += 2;
                }
                None | Some(b'\n') | Some(b'\\') => {
                    return self.err(start, format!("unterminated {what}"));
                }
                Some(&c) if c == quote => {
                    self.pos += 1;
                    return Ok(&src[body_start..self.pos - 1]);
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn quoted(&mut self, start: usize) -> Result<String, LexError> {
        let body = self.scan_quoted(start, b'"', "quoted string")?;
        unquote(body, '"').ok_or(LexError {
            pos: start,
            message: "invalid syntax in quoted string".into(),
        })
    }

    fn raw(&mut self, start: usize) -> Result<String, LexError> {
        match self.rest().find('`') {
            Some(i) => {
                let s = self.rest()[..i].replace('\r', "");
                self.pos += i + 1;
                Ok(s)
            }
            None => self.err(start, "unterminated raw quoted string"),
        }
    }

    fn char_const(&mut self, start: usize) -> Result<i64, LexError> {
        let body = self.scan_quoted(start, b'\'', "character constant")?;
        let text = self.src[start..self.pos].to_string();
        let s = unquote(body, '\'');
        let mut chars = s.as_deref().unwrap_or("").chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c as i64),
            _ => self.err(start, format!("malformed character constant: {text}")),
        }
    }
}

fn keyword(word: &str) -> Tok {
    match word {
        "block" => Tok::Keyword(Kw::Block),
        "break" => Tok::Keyword(Kw::Break),
        "continue" => Tok::Keyword(Kw::Continue),
        "define" => Tok::Keyword(Kw::Define),
        "else" => Tok::Keyword(Kw::Else),
        "end" => Tok::Keyword(Kw::End),
        "if" => Tok::Keyword(Kw::If),
        "range" => Tok::Keyword(Kw::Range),
        "template" => Tok::Keyword(Kw::Template),
        "with" => Tok::Keyword(Kw::With),
        "nil" => Tok::Nil,
        "true" => Tok::Bool(true),
        "false" => Tok::Bool(false),
        _ => Tok::Ident,
    }
}

/// Decodes Go escape sequences in a quoted literal body, as `strconv.Unquote`.
/// Invalid UTF-8 produced by `\x` or octal escapes is replaced by U+FFFD.
fn unquote(body: &str, quote: char) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' if quote == '"' => Some(b'"'),
            '\'' if quote == '\'' => Some(b'\''),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<u32> {
            let mut v = 0u32;
            for _ in 0..n {
                v = v * 16 + chars.next()?.to_digit(16)?;
            }
            Some(v)
        };
        match e {
            'x' => out.push(hex(&mut chars, 2)? as u8),
            'u' | 'U' => {
                let c = char::from_u32(hex(&mut chars, if e == 'u' { 4 } else { 8 })?)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    v = v * 8 + chars.next()?.to_digit(8)?;
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn texts(src: &str) -> Vec<String> {
        lex(src)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == Tok::Text)
            .map(|t| src[t.start..t.end].to_string())
            .collect()
    }

    #[test]
    fn tokens_of_an_action() {
        use Tok::*;
        assert_eq!(
            kinds(r#"a{{ $x := .Labels.job | printf "%s" 1.5 }}b"#),
            vec![
                Text,
                LeftDelim,
                Variable,
                Declare,
                Field,
                Field,
                Pipe,
                Ident,
                Str("%s".into()),
                Number,
                RightDelim,
                Text,
                Eof
            ]
        );
        assert_eq!(kinds("{{.}}"), vec![LeftDelim, Dot, RightDelim, Eof]);
        assert_eq!(
            kinds("{{if true}}{{else}}{{end}}")[1..3],
            [Keyword(Kw::If), Bool(true)]
        );
        assert_eq!(kinds("{{'a'}}")[1], CharConst(97));
        assert_eq!(kinds("{{-3}}")[1], Number);
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(texts("a  {{- 1 -}}  b"), vec!["a", "b"]);
        assert_eq!(texts("a {{1}} b"), vec!["a ", " b"]);
        assert_eq!(texts("x {{/* c */}} y"), vec!["x ", " y"]);
        assert_eq!(texts("x \n{{- /* c */ -}}\n y"), vec!["x", "y"]);
        assert_eq!(kinds("{{/* c */}}"), vec![Tok::Eof]);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            kinds(r#"{{"a\tb\u00e9\x41\101"}}"#)[1],
            Tok::Str("a\tbéAA".into())
        );
        assert_eq!(kinds("{{`a\\n\r`}}")[1], Tok::Str("a\\n".into()));
    }

    #[test]
    fn errors_carry_positions() {
        let e = |s: &str| lex(s).unwrap_err();
        assert_eq!(e("ab{{ .x ").message, "unclosed action");
        assert_eq!(e("ab{{ .x ").pos, 2);
        assert_eq!(e("{{").message, "unclosed action");
        assert_eq!(e(r#"{{ "abc }}"#).message, "unterminated quoted string");
        assert_eq!(e("{{ `abc }}").message, "unterminated raw quoted string");
        assert_eq!(e("{{/* x }}").message, "unclosed comment");
        assert_eq!(
            e("{{/* x */ }}").message,
            "comment ends before closing delimiter"
        );
        assert_eq!(e("{{ (1 }}").message, "unclosed left paren");
        assert_eq!(e("{{ 1) }}").message, "unexpected right paren");
        assert_eq!(
            e("{{ \u{a0} }}").message,
            "unrecognized character in action: U+00A0"
        );
        assert_eq!(e("{{ 3x }}").message, "bad number syntax: \"3x\"");
        assert_eq!(e("{{ a : b }}").message, "expected :=");
        assert_eq!(
            e(r#"{{ "\q" }}"#).message,
            "invalid syntax in quoted string"
        );
        assert_eq!(
            e("{{ 'ab' }}").message,
            "malformed character constant: 'ab'"
        );
    }
}
