//! Every page the Chromium tests visit is checked once per test: axe-core (the npm package
//! pinned in `tests/axe/package.json`, installed by ./test.sh, injected into the page) at
//! desktop width and at a phone's 360 px, plus a check that nothing scrolls sideways and no
//! button's label breaks out of it at 360 px. Any violation fails the test, naming the rule,
//! the elements and the page.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use fantoccini::Client;

/// Pages already checked, by their shape (see `page_key`), over the whole test binary:
/// one template is checked once, whichever test reaches it first.
static CHECKED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);

static AXE: LazyLock<String> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/axe/node_modules/axe-core/axe.min.js"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e} (./test.sh installs it: npm ci --prefix crates/veilpost/tests/axe)")
    })
});

pub(crate) const DESKTOP: (u32, u32) = (1280, 900);
pub(crate) const PHONE: (u32, u32) = (360, 780);

/// The page's shape: its path with tokens masked, its language, its first heading and
/// its forms' targets (one template in one state); `None` while a page is being replaced.
async fn page_key(c: &Client) -> Option<String> {
    let script = r#"
        const mask = s => s.split('/').map(p => p.length >= 16 || /^[0-9]+$/.test(p) ? '*' : p).join('/');
        const h1 = document.querySelector('h1');
        const forms = [...document.querySelectorAll('form')].map(f => mask(new URL(f.action, location).pathname)).join(',');
        return document.readyState === 'complete'
            ? [location.protocol, mask(location.pathname), document.documentElement.lang, h1 ? h1.textContent.trim() : '', forms].join('|')
            : null;
    "#;
    c.execute(script, vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// axe-core's violations on the current page, as lines; `None` when the page went away
/// during the run (a navigation: checked again on the next page).
pub(crate) async fn axe_violations(c: &Client) -> Option<Vec<String>> {
    // Every rule axe runs by default, plus WCAG 2.2's target size (off by default).
    axe_run(
        c,
        "{ resultTypes: ['violations'], rules: { 'target-size': { enabled: true } } }",
    )
    .await
}

/// axe-core with its WCAG 2.x A and AA rules only (for a mail's HTML, which has no page
/// landmarks to speak of).
pub(crate) async fn wcag_violations(c: &Client) -> Option<Vec<String>> {
    axe_run(
        c,
        "{ resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }, rules: { 'target-size': { enabled: true } } }",
    )
    .await
}

async fn axe_run(c: &Client, options: &str) -> Option<Vec<String>> {
    let loaded = c
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .ok()?;
    if loaded != serde_json::Value::Bool(true) {
        c.execute(&format!("{}\nreturn true;", *AXE), vec![])
            .await
            .ok()?;
    }
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, OPTIONS).then(
            r => done(r.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', ')}`)),
            e => done(['axe failed: ' + e]));
    "#
    .replace("OPTIONS", options);
    let v = c.execute_async(&script, vec![]).await.ok()?;
    let lines: Vec<String> = v
        .as_array()?
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    Some(lines)
}

/// At the current width: the elements wider than the viewport, and buttons whose label
/// does not fit them (a word broken or cut).
async fn overflow(c: &Client) -> Option<Vec<String>> {
    let script = r#"
        const out = [];
        const width = document.documentElement.clientWidth;
        // Inside a scroll container that itself fits (a data table on a phone), wide
        // content scrolls there, not the page (WCAG 1.4.10 allows it for data tables).
        const contained = e => {
            for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
                const o = getComputedStyle(a).overflowX;
                if ((o === 'auto' || o === 'scroll' || o === 'hidden') && a.getBoundingClientRect().right <= width + 1) return true;
            }
            return false;
        };
        if (document.documentElement.scrollWidth > width) {
            for (const e of document.body.querySelectorAll('*')) {
                const r = e.getBoundingClientRect();
                if (r.right > width + 1 && getComputedStyle(e).position !== 'fixed' && !contained(e)) {
                    out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + String(e.className).split(' ').join('.') : ''} reaches ${Math.round(r.right)} px of ${width}`);
                }
            }
            if (out.length === 0) out.push(`the page is ${document.documentElement.scrollWidth} px wide in ${width}`);
        }
        for (const b of document.querySelectorAll('button, a.button, input[type=submit]')) {
            if (b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1) {
                out.push(`button "${b.textContent.trim()}" does not fit (${b.scrollWidth} px in ${b.clientWidth})`);
            }
        }
        return out.slice(0, 8);
    "#;
    let v = c.execute(script, vec![]).await.ok()?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
    )
}

/// Check the current page once (by shape): axe at desktop and phone width, nothing
/// sideways at 360 px. Panics with every problem found (with `AXE_REPORT_ONLY` set, prints
/// them and goes on: to see every page's problems in one run).
pub(crate) async fn check_page(c: &Client) {
    let Some(key) = page_key(c).await else {
        return;
    };
    // A mail opened as a file (see `browser::mail_as_page`) has checks of its own.
    if !key.starts_with("http") {
        return;
    }
    if CHECKED.lock().expect("lock").contains(&key) {
        return;
    }
    let mut problems = Vec::new();
    let Some(desktop) = axe_violations(c).await else {
        return;
    };
    problems.extend(desktop.into_iter().map(|v| format!("desktop: {v}")));
    let _ = c.set_window_size(PHONE.0, PHONE.1).await;
    let phone = axe_violations(c).await;
    let sideways = overflow(c).await;
    let _ = c.set_window_size(DESKTOP.0, DESKTOP.1).await;
    let (Some(phone), Some(sideways)) = (phone, sideways) else {
        return;
    };
    // The same page still (not replaced by a navigation meanwhile).
    if page_key(c).await.as_deref() != Some(key.as_str()) {
        return;
    }
    problems.extend(phone.into_iter().map(|v| format!("360 px: {v}")));
    problems.extend(sideways.into_iter().map(|v| format!("360 px: {v}")));
    CHECKED.lock().expect("lock").insert(key.clone());
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    if std::env::var_os("AXE_REPORT_ONLY").is_some() {
        if !problems.is_empty() {
            eprintln!("AXE {url} ({key}):\n  {}", problems.join("\n  "));
        }
        return;
    }
    assert!(
        problems.is_empty(),
        "accessibility on {url} ({key}):\n  {}",
        problems.join("\n  ")
    );
}

/// A screenshot of the current page at `width` (desktop or phone), for the README: written
/// to `$VEILPOST_SCREENSHOTS/{name}.png` when that variable names a directory (see
/// docs/screens/README.md), else into the test's own directory. Returns the PNG.
pub(crate) async fn screenshot(
    c: &Client,
    name: &str,
    width: (u32, u32),
    dir: &std::path::Path,
) -> Vec<u8> {
    let _ = c.set_window_size(width.0, width.1).await;
    let png = c.screenshot().await.expect("a screenshot");
    let _ = c.set_window_size(DESKTOP.0, DESKTOP.1).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let out = std::env::var_os("VEILPOST_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    std::fs::create_dir_all(&out).expect("screenshot directory");
    std::fs::write(out.join(format!("{name}.png")), &png).expect("screenshot");
    png
}
