//! Every relative link in the repository's Markdown files resolves.
//!
//! The checker walks the repository from its root, reads every `*.md` file
//! outside build output, version control and virtual environments, and
//! collects the links: inline `[text](target)` and `![alt](target)`,
//! reference definitions `[name]: target`, and `href="…"` / `src="…"` in
//! HTML. Code blocks and code spans are skipped, and so are links with a
//! scheme (`https:`, `mailto:`). For every other link it asserts that the
//! target exists inside the repository and, for a `#anchor` into a Markdown
//! file (the same file included), that the file has a heading (or an
//! explicit `id` / `name`) with that anchor, as GitHub derives it.

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a directory is skipped: version control, build output, benchmark
/// output, caches and virtual environments (which bring Markdown files of
/// their own).
fn skipped_dir(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.starts_with('.') && name != ".github")
        || matches!(name, "target" | "bench-report" | "node_modules" | "__pycache__")
        || dir.join("pyvenv.cfg").exists()
}

/// Every Markdown file under `dir`, sorted.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if !skipped_dir(&path) {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// A line that opens or closes a fenced code block: its fence character and
/// length.
fn fence(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let c = trimmed.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = trimmed.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

/// The lines of a Markdown text that are not inside fenced code blocks,
/// with their 1-based line numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        match (open, fence(line)) {
            (None, Some(f)) => open = Some(f),
            (Some((c, n)), Some((c2, n2))) if c == c2 && n2 >= n && line.trim().chars().all(|x| x == c) => open = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// Splits a line into code spans and the text between them.
fn split_code_spans(line: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let ticks = &rest[start..start + run];
        let after = &rest[start + run..];
        // A span closes at the next run of exactly as many backticks.
        let mut search = 0;
        let mut close = None;
        while let Some(pos) = after[search..].find(ticks) {
            let at = search + pos;
            let len = after[at..].chars().take_while(|&c| c == '`').count();
            if len == run {
                close = Some(at);
                break;
            }
            search = at + len;
        }
        match close {
            Some(end) => {
                out.push((false, &rest[..start]));
                out.push((true, &after[..end]));
                rest = &after[end + run..];
            }
            None => {
                // An unmatched run is literal text.
                out.push((false, &rest[..start + run]));
                rest = after;
            }
        }
    }
    out.push((false, rest));
    out
}

/// The link targets in one line of prose (code spans removed).
fn links_in_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let trimmed = line.trim_start();
    // A reference definition: `[name]: target`.
    if line.len() - trimmed.len() <= 3 && trimmed.starts_with('[') && !trimmed.starts_with("[^") {
        if let Some(close) = trimmed.find("]:") {
            if let Some(target) = trimmed[close + 2..].split_whitespace().next() {
                out.push(target.trim_start_matches('<').trim_end_matches('>').to_string());
            }
        }
    }
    for (is_code, text) in split_code_spans(line) {
        if is_code {
            continue;
        }
        // Inline links and images: `](target)` or `](target "title")`.
        let mut rest = text;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let target = if let Some(inner) = after.strip_prefix('<') {
                inner.split('>').next().unwrap_or("").to_string()
            } else {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' if depth == 0 => {
                            end = i;
                            break;
                        }
                        ')' => depth -= 1,
                        c if c.is_whitespace() => {
                            end = i;
                            break;
                        }
                        _ => {}
                    }
                }
                after[..end].to_string()
            };
            out.push(target);
            rest = after;
        }
        // HTML attributes.
        for attr in ["href=\"", "src=\""] {
            let mut rest = text;
            while let Some(at) = rest.find(attr) {
                let after = &rest[at + attr.len()..];
                let end = after.find('"').unwrap_or(after.len());
                out.push(after[..end].to_string());
                rest = &after[end..];
            }
        }
    }
    out
}

/// Every link in a Markdown text, with its line number.
fn links(text: &str) -> Vec<(usize, String)> {
    prose_lines(text).into_iter().flat_map(|(n, line)| links_in_line(line).into_iter().map(move |l| (n, l))).collect()
}

/// Whether a link leaves the repository: it has a scheme (`https:`,
/// `mailto:`) or is protocol-relative.
fn is_external(target: &str) -> bool {
    if target.starts_with("//") {
        return true;
    }
    match target.find(':') {
        Some(colon) => {
            let scheme = &target[..colon];
            !scheme.is_empty()
                && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The anchor GitHub gives a heading: the rendered text, lower-cased, with
/// every character that is not a letter, digit, `_`, `-` or space removed and
/// spaces turned into `-`.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    for (is_code, part) in split_code_spans(heading) {
        if is_code {
            text.push_str(part);
        } else {
            text.push_str(&rendered(part));
        }
    }
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|&c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Heading text as rendered: links reduced to their text, HTML tags removed.
fn rendered(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(['[', '<']) {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if rest[open..].starts_with('<') {
            match after.find('>') {
                Some(close) if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') => {
                    rest = &after[close + 1..]
                }
                _ => {
                    out.push('<');
                    rest = after;
                }
            }
        } else if let Some(close) = after.find("](") {
            out.push_str(&after[..close]);
            let tail = &after[close + 2..];
            rest = tail.find(')').map_or("", |end| &tail[end + 1..]);
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The anchors a Markdown text defines: one per ATX heading (duplicates get
/// `-1`, `-2`, … as on GitHub) and every explicit `id="…"` / `name="…"`.
fn anchors(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for (_, line) in prose_lines(text) {
        let trimmed = line.trim_start_matches(' ');
        if line.len() - trimmed.len() <= 3 {
            let level = trimmed.chars().take_while(|&c| c == '#').count();
            let rest = &trimmed[level..];
            if (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
                // An optional closing run of `#`s is not part of the text.
                let body = rest.trim();
                let body = match body.trim_end_matches('#') {
                    b if b.is_empty() || b.ends_with(' ') => b.trim_end(),
                    _ => body,
                };
                let base = slug(body);
                let mut candidate = base.clone();
                let mut n = 0;
                while out.contains(&candidate) {
                    n += 1;
                    candidate = format!("{base}-{n}");
                }
                out.insert(candidate);
            }
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attr) {
                let after = &rest[at + attr.len()..];
                let end = after.find('"').unwrap_or(after.len());
                out.insert(after[..end].to_lowercase());
                rest = &after[end..];
            }
        }
    }
    out
}

/// `%XX` escapes decoded (a link to `a%20b.md` names `a b.md`).
fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with `.` and `..` resolved lexically; `None` if it climbs above
/// the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Checks every link of the Markdown files under `root`; returns one line per
/// broken link.
fn broken_links(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut broken = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let rel_file = file.strip_prefix(root).unwrap_or(file);
        let dir = rel_file.parent().unwrap_or(Path::new(""));
        for (line, target) in links(&text) {
            if target.is_empty() || is_external(&target) {
                continue;
            }
            let (path_part, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let path_part = path_part.split('?').next().unwrap_or("");
            let mut report = |why: String| broken.push(format!("{}:{line}: `{target}`: {why}", rel_file.display()));
            let rel_target = if path_part.is_empty() {
                rel_file.to_path_buf()
            } else if let Some(abs) = path_part.strip_prefix('/') {
                PathBuf::from(percent_decode(abs))
            } else {
                dir.join(percent_decode(path_part))
            };
            let Some(rel_target) = normalize(&rel_target) else {
                report("points outside the repository".to_string());
                continue;
            };
            let full = root.join(&rel_target);
            if !full.exists() {
                report(format!("{} does not exist", rel_target.display()));
                continue;
            }
            let Some(anchor) = anchor.filter(|a| !a.is_empty()) else { continue };
            if full.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")) {
                let target_text = fs::read_to_string(&full).unwrap_or_default();
                let anchor = percent_decode(anchor).to_lowercase();
                if !anchors(&target_text).contains(&anchor) {
                    report(format!("{} has no heading with anchor #{anchor}", rel_target.display()));
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_markdown_files_resolves() {
    let root = repo_root();
    let files = markdown_files(&root);
    let broken = broken_links(&root, &files);
    assert!(broken.is_empty(), "broken links in the Markdown files:\n{}", broken.join("\n"));
}

#[test]
fn the_walk_finds_the_documents_and_their_links() {
    // Guards against a walk or a parser that checks nothing and so passes.
    let root = repo_root();
    let files = markdown_files(&root);
    let rel: Vec<PathBuf> = files.iter().map(|f| f.strip_prefix(&root).unwrap().to_path_buf()).collect();
    for expected in ["README.md", "docs/SEMANTICS.md", "docs/GUIDE.md", "python/README.md"] {
        assert!(rel.contains(&PathBuf::from(expected)), "{expected} not found among {rel:?}");
    }
    assert!(!rel.iter().any(|p| p.starts_with("target")), "build output was searched: {rel:?}");
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let targets: Vec<String> = links(&readme).into_iter().map(|(_, t)| t).collect();
    for expected in ["docs/SEMANTICS.md", "docs/headline.svg", "docs/SEMANTICS.md#2-policies"] {
        assert!(targets.iter().any(|t| t == expected), "README link {expected} not found among {targets:?}");
    }
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("2a. Hand-off modes"), "2a-hand-off-modes");
    assert_eq!(slug("4. Async API (tasks)"), "4-async-api-tasks");
    assert_eq!(slug("`Send` and `Sync`"), "send-and-sync");
    assert_eq!(slug("`Strict<P>`: exact hand-off"), "strictp-exact-hand-off");
    assert_eq!(slug("See [the guide](GUIDE.md) <em>now</em>"), "see-the-guide-now");
    assert_eq!(slug("snake_case and Ünïcode"), "snake_case-and-ünïcode");
    let a = anchors("# Title\n## Same\n## Same\n```\n# not a heading\n```\n<a name=\"x\"></a>\n#nospace\n");
    let mut a: Vec<_> = a.into_iter().collect();
    a.sort();
    assert_eq!(a, ["same", "same-1", "title", "x"]);
}

#[test]
fn link_extraction_skips_code_and_reads_every_form() {
    let text = "See [a](a.md) and ![b](img/b.svg \"title\") and [c](<c d.md>).\n\
                `[not](code.md)` and [e](https://example.com) and [f](f.md#sec).\n\
                ```\n[g](in-fence.md)\n```\n\
                [ref]: r.md\n\
                <img src=\"s.png\"> <a href=\"h.md\">h</a>\n\
                [p](x_(y).md)\n";
    let got: Vec<String> = links(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        got,
        ["a.md", "img/b.svg", "c d.md", "https://example.com", "f.md#sec", "r.md", "h.md", "s.png", "x_(y).md"]
    );
    assert!(is_external("https://example.com") && is_external("mailto:x@y.z") && is_external("//cdn/x"));
    assert!(!is_external("docs/GUIDE.md") && !is_external("#anchor") && !is_external("a.md#b:c"));
}

#[test]
fn a_planted_broken_link_is_reported() {
    // A scratch repository with one good and four broken links.
    let root = std::env::temp_dir().join(format!("rwlocker-doc-links-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(root.join("target")).unwrap();
    fs::write(root.join("docs/A.md"), "# A\n## Real section\n").unwrap();
    fs::write(
        root.join("README.md"),
        "[ok](docs/A.md#real-section) [self](#top)\n\
         [gone](docs/B.md) [bad anchor](docs/A.md#no-such-section) [up](../outside.md)\n\
         # Top\n",
    )
    .unwrap();
    fs::write(root.join("docs/C.md"), "[missing](missing.png)\n").unwrap();
    // Build output is not searched: this broken link must not be reported.
    fs::write(root.join("target/X.md"), "[x](nowhere.md)\n").unwrap();
    let files = markdown_files(&root);
    let broken = broken_links(&root, &files);
    let _ = fs::remove_dir_all(&root);
    assert_eq!(broken.len(), 4, "{broken:#?}");
    assert!(broken[0].starts_with("README.md:2: `docs/B.md`"), "{broken:#?}");
    assert!(broken[1].contains("no heading with anchor #no-such-section"), "{broken:#?}");
    assert!(broken[2].contains("outside the repository"), "{broken:#?}");
    assert!(broken[3].starts_with("docs/C.md:1: `missing.png`"), "{broken:#?}");
}
