//! The page's HTML: a header with the problems, one section per group
//! (its members, each member's targets with their charts), and the events
//! of the last 24 hours. States are shown by word and by colour.

use std::fmt::Write;

use super::{Chart, Esc, Page, REFRESH_SECS, chart};
use crate::view;

/// The page's one style sheet; the CSP names it by its hash, so any change
/// here changes the header with it.
pub(super) const CSS: &str = "\
:root{--up:#1a7f37;--down:#cf222e;--unknown:#6e7781;--warn:#9a6700;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--card:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;padding:12px;font:15px/1.4 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:1400px}
h1{font-size:1.3em;margin:0 0 4px}h2{font-size:1.15em;margin:0;word-break:break-word}h3{font-size:1em;margin:0;word-break:break-word}
p,ul,dl{margin:4px 0}.muted{color:var(--muted)}
.st{display:inline-block;min-width:5.5em;padding:1px 6px;border-radius:4px;color:#fff;font-weight:600;text-align:center;margin-right:6px}
.st.up{background:var(--up)}.st.down{background:var(--down)}.st.unknown{background:var(--unknown)}.st.warn{background:var(--warn)}
.problems li{color:var(--down);font-weight:600}
section.group{border:1px solid var(--line);border-radius:6px;padding:10px;margin:12px 0;background:var(--card)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-word}
.member{border-top:1px solid var(--line);margin-top:8px;padding-top:8px}
.target{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:flex-start;margin:6px 0 6px 8px}
.target .info{flex:1 1 16em;min-width:0;word-break:break-word}
figure{margin:0;flex:1 1 240px;min-width:140px;max-width:480px}figcaption{font-size:.75em;color:var(--muted)}
svg.chart{display:block;width:100%;height:40px;background:var(--bg);border:1px solid var(--line)}
svg .axis{stroke:var(--line);stroke-width:1;fill:none;vector-effect:non-scaling-stroke}
svg .line{fill:none;stroke-width:1.5;stroke-linejoin:round;vector-effect:non-scaling-stroke}
.rtt .line{stroke:#0969da}.loss .line{stroke:var(--down)}
table.events{border-collapse:collapse;width:100%}table.events td{border-top:1px solid var(--line);padding:3px 6px;vertical-align:top;word-break:break-word}
table.events td.at{white-space:nowrap;color:var(--muted)}
@media (max-width:600px){body{padding:6px;font-size:14px}.target{margin-left:0}figure{flex-basis:100%}table.events tr{display:block;border-top:1px solid var(--line);padding:3px 0}table.events td{display:block;border:0;padding:1px 4px}}
";

/// The whole page.
pub fn render(page: &Page) -> String {
    let s = &page.status;
    let mut out = String::with_capacity(8192 + 2600 * targets(s));
    let (up, down) = (count(s, "up"), count(s, "down"));
    let n = s.groups.len();
    let title = format!(
        "failoverd: {n} group{}, {up} up, {down} down, {} unknown",
        if n == 1 { "" } else { "s" },
        n - up - down
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>{CSS}</style></head><body>\n"
    );
    header(&mut out, page, &title);
    for (gi, g) in s.groups.iter().enumerate() {
        group(&mut out, g, page.charts.get(gi).map_or(&[][..], Vec::as_slice));
    }
    events(&mut out, page);
    shadow(&mut out, page);
    out.push_str("</body></html>\n");
    out
}

fn targets(s: &view::Status) -> usize {
    s.groups.iter().flat_map(|g| &g.members).map(|m| m.targets.len()).sum()
}

fn count(s: &view::Status, state: &str) -> usize {
    s.groups.iter().filter(|g| g.state == state).count()
}

/// A state as a coloured word.
fn badge(out: &mut String, state: &str) {
    let class = match state {
        "up" => "up",
        "down" => "down",
        _ => "unknown",
    };
    let _ = write!(out, "<span class=\"st {class}\">{}</span>", Esc(state));
}

fn header(out: &mut String, page: &Page, title: &str) {
    let s = &page.status;
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"muted\">firewall {} · as of {} · this page reloads every {REFRESH_SECS} s</p>",
        Esc(title),
        Esc(&s.firewall),
        time(page.now)
    );
    if let Some(role) = &s.ha_role {
        let _ = write!(out, "<p>this host: {}</p>", Esc(role));
    }
    let mut problems: Vec<&str> = s.problems.iter().map(String::as_str).collect();
    if s.guard_tripped && !problems.iter().any(|p| p.contains("guard")) {
        problems.push("the guard holds: DeActives are withheld");
    }
    if problems.is_empty() {
        out.push_str("<p><span class=\"st up\">ok</span>no problems; the guard lets DeActives through</p>");
    } else {
        out.push_str("<ul class=\"problems\">");
        for p in problems {
            let _ = write!(out, "<li><span class=\"st down\">problem</span>{}</li>", Esc(p));
        }
        out.push_str("</ul>");
    }
    out.push_str("</header>\n");
}

fn group(out: &mut String, g: &view::Group, charts: &[Vec<Chart>]) {
    let _ = write!(out, "<section class=\"group\" data-group=\"{}\"><h2>", Esc(&g.name));
    badge(out, &g.state);
    let _ = write!(out, "{}</h2><dl class=\"facts\">", Esc(&g.name));
    fact(out, "kind", &g.kind);
    fact(out, "expected active", g.expected_active.as_deref().unwrap_or("none"));
    let carrying = g.carrying.as_deref().unwrap_or("not read ([snmp] not set)");
    fact(out, "firewall carries", carrying);
    if let Some(f) = &g.firewall {
        if f.disagrees {
            fact(out, "firewall view", "DISAGREES with failoverd");
        }
        if let Some(n) = &f.not_honoured {
            fact(out, "not honoured", n);
        }
    }
    let since = g.since.map_or("-".to_string(), time);
    fact(out, "state since", &since);
    if let Some(d) = &g.definition {
        fact(out, "definition on the firewall", d);
    }
    fact(out, "firewall has (belief)", &g.belief);
    fact(
        out,
        "armed",
        if g.armed {
            "yes"
        } else {
            "no: waits to see the group up"
        },
    );
    let push = match &g.last_push {
        Some(p) => format!("{}: {}", p.push, p.answer),
        None => "none since start".to_string(),
    };
    fact(out, "last push and answer", &push);
    if g.refused {
        fact(out, "refused", "the firewall refuses this group's pushes");
    }
    let hold = match &g.hold {
        Some(h) => format!("until {}: {}", time(h.until), h.reason),
        None => "none".to_string(),
    };
    fact(out, "hold", &hold);
    if let Some(w) = &g.withheld {
        fact(out, "withheld by the hold", &format!("{w} (failoverd wants it)"));
    }
    if let Some(f) = &g.flap_damping {
        let text = format!(
            "{} DeActives: Active held {}, {} left",
            f.deactives, f.hold, f.active_in
        );
        fact(out, "flap damping", &text);
    }
    out.push_str("</dl>");
    for (mi, m) in g.members.iter().enumerate() {
        member(out, m, charts.get(mi).map_or(&[][..], Vec::as_slice));
    }
    out.push_str("</section>\n");
}

fn fact(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "<dt>{name}</dt><dd>{}</dd>", Esc(value));
}

fn member(out: &mut String, m: &view::Member, charts: &[Chart]) {
    let _ = write!(out, "<div class=\"member\" data-member=\"{}\"><h3>", Esc(&m.name));
    badge(out, &m.state);
    let _ = write!(out, "member {}</h3>", Esc(&m.name));
    // With [snmp]: the member's row in the firewall's tunnel table.
    for line in [
        m.firewall.as_ref().map(|v| format!("on the firewall: {v}")),
        m.firewall_note.clone(),
        m.passed_over.clone(),
    ]
    .into_iter()
    .flatten()
    {
        let _ = write!(out, "<p class=\"fw\">{}</p>", Esc(&line));
    }
    let empty = Chart::default();
    for (ti, t) in m.targets.iter().enumerate() {
        let c = charts.get(ti).unwrap_or(&empty);
        let _ = write!(
            out,
            "<div class=\"target\" data-target=\"{} {}\"><div class=\"info\">",
            Esc(&t.condition),
            Esc(&t.target)
        );
        badge(out, &t.state);
        let _ = write!(out, "<b>{} {}</b><br>", Esc(&t.condition), Esc(&t.target));
        let last = match &t.last {
            Some(l) => match (&l.rtt, &l.reason) {
                (Some(rtt), _) => format!("last check {} at {}, RTT {rtt}", l.result, time(l.at)),
                (None, Some(r)) => format!("last check {} at {}: {r}", l.result, time(l.at)),
                (None, None) => format!("last check {} at {}", l.result, time(l.at)),
            },
            None => "no check yet".to_string(),
        };
        let loss = match c.window_loss() {
            Some(l) => format!("loss {:.0} % over the last 5 min", l * 100.0),
            None => "loss: no checks in the last 5 min".to_string(),
        };
        let _ = write!(
            out,
            "<span class=\"muted\">{} · {loss}</span><br>{}</div>",
            Esc(&last),
            Esc(&t.reason)
        );
        chart::rtt(out, c);
        chart::loss(out, c);
        out.push_str("</div>");
    }
    out.push_str("</div>");
}

fn events(out: &mut String, page: &Page) {
    let _ = write!(
        out,
        "<section class=\"events\"><h2>Events, last 24 hours ({})</h2>",
        page.events.len()
    );
    if page.events.is_empty() {
        out.push_str("<p class=\"muted\">none</p>");
    } else {
        out.push_str("<table class=\"events\">");
        for e in page.events.iter().rev() {
            let class = if e.bad { "down" } else { "up" };
            let _ = write!(
                out,
                "<tr><td class=\"at\">{}</td><td>{}</td><td><span class=\"st {class}\">{}</span>{}</td></tr>",
                time(e.at),
                Esc(&e.group),
                Esc(&e.kind),
                Esc(&e.text)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");
}

/// The shadow report (docs/history.md): a heading per group, a line per
/// fact.
fn shadow(out: &mut String, page: &Page) {
    out.push_str("<section class=\"shadow\"><h2>Shadow report, last 7 days of this run</h2>");
    if page.shadow.is_empty() {
        out.push_str("<p class=\"muted\">none</p>");
    }
    let mut open = false;
    for line in &page.shadow {
        let text = line.trim();
        if !line.starts_with(' ') {
            if open {
                out.push_str("</ul>");
            }
            let _ = write!(out, "<h3>{}</h3><ul>", Esc(text));
            open = true;
        } else {
            let _ = write!(out, "<li>{}</li>", Esc(text));
        }
    }
    if open {
        out.push_str("</ul>");
    }
    out.push_str("</section>\n");
}

/// Unix seconds as "2026-12-02 02:31:07 UTC".
fn time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| "?".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}
