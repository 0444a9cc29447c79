//! The compliance report rendered as PDF: A4 pages of wrapped text in the standard Helvetica
//! fonts (WinAnsiEncoding, so no font is embedded), new pages added as the text needs them.

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::report::{ComplianceReport, EXPIRING_SOON_DAYS, Finding};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// Line height as a multiple of the font size.
const LINE_SPACING: f32 = 1.35;
const FOOTER_SIZE: f32 = 8.0;
/// The lowest baseline body text may use; below it sits the footer.
const BOTTOM: f32 = MARGIN + 2.0 * FOOTER_SIZE;

const TITLE_SIZE: f32 = 20.0;
const HEADING_SIZE: f32 = 14.0;
const SUBHEADING_SIZE: f32 = 11.0;
const BODY_SIZE: f32 = 10.0;
const INDENT: f32 = 14.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Renders the report as a PDF document.
pub fn render_pdf(report: &ComplianceReport) -> Vec<u8> {
    let mut doc = Layout::new();

    doc.line(Font::Bold, TITLE_SIZE, 0.0, "Compliance report");
    doc.gap(4.0);
    let organization = report
        .organization_id
        .as_deref()
        .unwrap_or("all organizations");
    doc.paragraph(
        Font::Regular,
        BODY_SIZE,
        0.0,
        &format!("Organization: {organization}"),
    );
    doc.paragraph(
        Font::Regular,
        BODY_SIZE,
        0.0,
        &format!(
            "Period: {} to {}",
            timestamp(report.period.start),
            timestamp(report.period.end)
        ),
    );
    doc.paragraph(
        Font::Regular,
        BODY_SIZE,
        0.0,
        &format!("Generated at: {}", timestamp(report.generated_at)),
    );

    let summary = &report.summary;
    doc.heading("Summary");
    for (label, value) in [
        ("Total secrets", summary.total_secrets),
        ("Active secrets", summary.active_secrets),
        ("Expired secrets", summary.expired_secrets),
        (
            &format!("Expiring within {EXPIRING_SOON_DAYS} days"),
            summary.expiring_within_30_days,
        ),
        ("Rotations due", summary.rotations_due),
        ("Deleted secrets", summary.deleted_secrets),
    ] {
        doc.paragraph(Font::Regular, BODY_SIZE, 0.0, &format!("{label}: {value}"));
    }

    let access = &report.access_report;
    doc.heading("Access");
    for (label, value) in [
        ("Total accesses", access.total_accesses),
        ("Unique users", access.unique_users),
        ("Denied accesses", access.denied_accesses),
    ] {
        doc.paragraph(Font::Regular, BODY_SIZE, 0.0, &format!("{label}: {value}"));
    }
    for (title, counts) in [
        ("Accesses by scope", &access.accesses_by_scope),
        ("Accesses by module", &access.accesses_by_module),
    ] {
        doc.gap(4.0);
        doc.keep_lines(2, SUBHEADING_SIZE);
        doc.paragraph(Font::Bold, SUBHEADING_SIZE, 0.0, title);
        if counts.is_empty() {
            doc.paragraph(Font::Regular, BODY_SIZE, INDENT, "None recorded");
        }
        for (key, value) in counts {
            doc.paragraph(Font::Regular, BODY_SIZE, INDENT, &format!("{key}: {value}"));
        }
    }

    doc.heading("Findings");
    if report.findings.is_empty() {
        doc.paragraph(Font::Regular, BODY_SIZE, 0.0, "No findings.");
    }
    for (index, finding) in report.findings.iter().enumerate() {
        render_finding(&mut doc, index + 1, finding);
    }

    doc.finish(report.generated_at)
}

fn render_finding(doc: &mut Layout, number: usize, finding: &Finding) {
    doc.gap(6.0);
    // Keep the finding's heading on the same page as the start of its text.
    doc.keep_lines(3, SUBHEADING_SIZE);
    doc.paragraph(
        Font::Bold,
        SUBHEADING_SIZE,
        0.0,
        &format!("{number}. [{}] {}", finding.severity, finding.category),
    );
    doc.paragraph(Font::Regular, BODY_SIZE, INDENT, &finding.description);
    doc.paragraph(
        Font::Regular,
        BODY_SIZE,
        INDENT,
        &format!("Recommendation: {}", finding.recommendation),
    );
    doc.paragraph(
        Font::Regular,
        BODY_SIZE,
        INDENT,
        &format!(
            "Affected secrets ({}): {}",
            finding.affected_secrets.len(),
            finding.affected_secrets.join(", ")
        ),
    );
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[derive(Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => REGULAR,
            Font::Bold => BOLD,
        }
    }

    /// Width of `text` (WinAnsi bytes) at `size` points.
    fn width(self, text: &[u8], size: f32) -> f32 {
        let units: u32 = text.iter().map(|&b| u32::from(helvetica_width(b))).sum();
        // Helvetica-Bold's glyphs are at most about 10% wider than Helvetica's; measuring
        // bold text as 10% wider keeps it inside the margin without a second width table.
        let factor = match self {
            Font::Regular => 1.0,
            Font::Bold => 1.1,
        };
        units as f32 * size / 1000.0 * factor
    }
}

/// Text laid out line by line onto A4 pages, top to bottom.
struct Layout {
    pages: Vec<Content>,
    current: Content,
    /// Baseline of the last line written on the current page.
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Layout {
            pages: Vec::new(),
            current: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn new_page(&mut self) {
        let full = std::mem::replace(&mut self.current, Content::new());
        self.pages.push(full);
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Starts a new page unless `lines` lines of `size` still fit on this one.
    fn keep_lines(&mut self, lines: u16, size: f32) {
        if self.y - f32::from(lines) * size * LINE_SPACING < BOTTOM {
            self.new_page();
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn heading(&mut self, text: &str) {
        self.gap(10.0);
        self.keep_lines(3, HEADING_SIZE);
        self.line(Font::Bold, HEADING_SIZE, 0.0, text);
        self.gap(2.0);
    }

    /// Writes `text` wrapped to the text width, starting `indent` points from the margin.
    fn paragraph(&mut self, font: Font, size: f32, indent: f32, text: &str) {
        let encoded = win_ansi(text);
        for line in wrap(font, size, TEXT_WIDTH - indent, &encoded) {
            self.line_bytes(font, size, indent, line);
        }
    }

    /// Writes one line that is known to fit.
    fn line(&mut self, font: Font, size: f32, indent: f32, text: &str) {
        self.line_bytes(font, size, indent, &win_ansi(text));
    }

    fn line_bytes(&mut self, font: Font, size: f32, indent: f32, text: &[u8]) {
        let height = size * LINE_SPACING;
        if self.y - height < BOTTOM {
            self.new_page();
        }
        self.y -= height;
        self.current
            .begin_text()
            .set_font(font.name(), size)
            .next_line(MARGIN + indent, self.y)
            .show(Str(text))
            .end_text();
    }

    /// Adds the page footers and writes the document.
    fn finish(mut self, generated_at: DateTime<Utc>) -> Vec<u8> {
        let last = std::mem::replace(&mut self.current, Content::new());
        self.pages.push(last);
        let total = self.pages.len();

        let mut ids = RefAllocator::default();
        let catalog_id = ids.next();
        let page_tree_id = ids.next();
        let regular_id = ids.next();
        let bold_id = ids.next();
        let info_id = ids.next();
        let page_ids: Vec<(Ref, Ref)> = (0..total).map(|_| (ids.next(), ids.next())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog_id).pages(page_tree_id);
        pdf.pages(page_tree_id)
            .kids(page_ids.iter().map(|&(page, _)| page))
            .count(i32::try_from(total).unwrap_or(i32::MAX));
        pdf.type1_font(regular_id)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold_id)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info_id)
            .title(TextStr("Compliance report"))
            .creator(TextStr("secret manager"))
            .creation_date(pdf_date(generated_at));

        for (index, (mut content, &(page_id, content_id))) in
            self.pages.into_iter().zip(page_ids.iter()).enumerate()
        {
            let footer = format!("Compliance report - page {} of {total}", index + 1);
            content
                .begin_text()
                .set_font(REGULAR, FOOTER_SIZE)
                .next_line(MARGIN, MARGIN)
                .show(Str(&win_ansi(&footer)))
                .end_text();

            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(page_tree_id)
                .contents(content_id);
            page.resources()
                .fonts()
                .pair(REGULAR, regular_id)
                .pair(BOLD, bold_id);
            page.finish();
            pdf.stream(content_id, &content.finish());
        }

        pdf.finish()
    }
}

/// Hands out consecutive object ids starting at 1.
#[derive(Default)]
struct RefAllocator {
    last: i32,
}

impl RefAllocator {
    fn next(&mut self) -> Ref {
        // Two objects per page: overflowing i32 would take a billion pages.
        self.last = self.last.saturating_add(1);
        Ref::new(self.last.max(1))
    }
}

fn pdf_date(at: DateTime<Utc>) -> Date {
    let small = |n: u32| u8::try_from(n).unwrap_or(0);
    Date::new(u16::try_from(at.year()).unwrap_or(0))
        .month(small(at.month()))
        .day(small(at.day()))
        .hour(small(at.hour()))
        .minute(small(at.minute()))
        .second(small(at.second()))
        .utc_offset_hour(0)
}

/// Splits `text` into lines no wider than `width`, breaking at spaces, and inside a word only
/// when the word alone is wider than a line.
fn wrap(font: Font, size: f32, width: f32, text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = text;
    loop {
        if font.width(rest, size) <= width {
            lines.push(rest);
            return lines;
        }
        // The longest prefix that fits, then back off to the last space within it.
        let mut fit = 0;
        let mut used = 0.0;
        for &byte in rest {
            let advance = font.width(&[byte], size);
            if used + advance > width {
                break;
            }
            used += advance;
            fit += 1;
        }
        let fit = fit.max(1);
        if fit >= rest.len() {
            lines.push(rest);
            return lines;
        }
        let (line, next) = if rest[fit] == b' ' {
            (&rest[..fit], &rest[fit + 1..])
        } else {
            match rest[..fit].iter().rposition(|&b| b == b' ') {
                Some(space) if space > 0 => (&rest[..space], &rest[space + 1..]),
                _ => rest.split_at(fit),
            }
        };
        lines.push(line);
        rest = next;
        if rest.is_empty() {
            return lines;
        }
    }
}

/// `text` in WinAnsiEncoding: characters it lacks become `?`, control characters a space.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            '\t' | '\n' | '\r' => b' ',
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            c if c.is_control() => b' ',
            _ => b'?',
        })
        .collect()
}

/// Helvetica's advance width of a WinAnsi byte, in thousandths of the font size. Printable
/// ASCII uses the font's metrics; other bytes use a width no narrower than their glyph's.
fn helvetica_width(byte: u8) -> u16 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
        278, // ' '..'/'
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
        556, // '0'..'?'
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
        778, // '@'..'O'
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
        556, // 'P'..'_'
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
        556, // '`'..'o'
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
    ];
    match byte {
        b' '..=b'~' => ASCII[usize::from(byte - b' ')],
        // Dashes, ellipsis, per mille, ligatures, trademark: up to a full em.
        0x80..=0x9f | 0xc6 | 0xe6 => 1000,
        _ => 778,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_outside_win_ansi_become_question_marks() {
        assert_eq!(
            win_ansi("a€é—✓\u{1}"),
            vec![b'a', 0x80, 0xe9, 0x97, b'?', b' ']
        );
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let text = "alpha beta gamma delta epsilon ".repeat(30);
        let encoded = win_ansi(text.trim_end());
        let lines = wrap(Font::Regular, BODY_SIZE, TEXT_WIDTH, &encoded);
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(Font::Regular.width(line, BODY_SIZE) <= TEXT_WIDTH);
        }
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, encoded);
    }

    #[test]
    fn word_wider_than_a_line_is_split() {
        let word = "x".repeat(500);
        let encoded = win_ansi(&word);
        let lines = wrap(Font::Regular, BODY_SIZE, TEXT_WIDTH, &encoded);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), encoded);
        for line in &lines {
            assert!(Font::Regular.width(line, BODY_SIZE) <= TEXT_WIDTH);
        }
    }
}
