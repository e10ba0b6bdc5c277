//! The parse wrapper: `promql-parser` for syntax, plus error positions
//! (the crate reports none) and pretty printing.

use super::Expr;

/// A parse error with the byte position of the problem, when it could be found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, as the parser said it, with position when known
    /// (`1:5: ...`, as Prometheus writes it).
    pub message: String,
    /// Byte offset of the problem in the query, when known.
    pub position: Option<usize>,
}

/// Parses a PromQL expression.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    promql_parser::parser::parse(query).map_err(|message| {
        let position = super::parse_pos::locate(query, &message);
        let message = match position {
            Some(p) => {
                let (line, col) = line_col(query, p);
                format!("{line}:{col}: parse error: {message}")
            }
            None => format!("parse error: {message}"),
        };
        ParseError { message, position }
    })
}

/// 1-based line and column (in characters) of byte offset `pos`.
pub(crate) fn line_col(s: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(s.len());
    let before = &s[..s.floor_char_boundary_compat(pos)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Formats a query as Prometheus' `/api/v1/format_query` does (pretty
/// printed, split over lines when long).
pub fn format_query(expr: &Expr) -> String {
    expr.prettify()
}
