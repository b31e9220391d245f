//! The renderer on hand-built views: every name escaped, nothing active on
//! the page, the CSP's hash naming the one style sheet, charts with their
//! points and gaps.

use super::*;
use crate::view::{Check, Group, Hold, LastPush, Member, Status, Target};

const HOSTILE: &str = "<script>alert(1)</script>\"'&amp;<img src=x onerror=alert(2)>";

fn target(name: &str, state: &str) -> Target {
    Target {
        condition: "PING".into(),
        target: name.into(),
        state: state.into(),
        reason: format!("2 good checks in a row ({name})"),
        last: Some(Check {
            result: "good".into(),
            rtt: Some("1.2ms".into()),
            reason: None,
            at: 1_800_000_000,
        }),
    }
}

fn status(name: &str) -> Status {
    Status {
        groups: vec![Group {
            name: name.into(),
            kind: "tunnel".into(),
            state: "down".into(),
            since: Some(1_800_000_000),
            expected_active: Some(name.into()),
            members: vec![
                Member {
                    name: name.into(),
                    state: "down".into(),
                    targets: vec![target(name, "down")],
                    ..Member::default()
                },
                Member {
                    name: "B".into(),
                    state: "up".into(),
                    targets: vec![target("127.0.0.2", "up")],
                    ..Member::default()
                },
            ],
            belief: "Active".into(),
            last_push: Some(LastPush {
                push: "Active".into(),
                answer: format!("refused: {name}"),
            }),
            hold: Some(Hold {
                until: 1_800_000_600,
                reason: name.into(),
            }),
            ..Group::default()
        }],
        problems: vec![format!("the firewall API refuses us: {name}")],
        firewall: format!("https://192.0.2.1:4444/{name}"),
        ..Status::default()
    }
}

/// A chart whose first half has a check every step (RTT rising, no loss),
/// then 10 steps with every check lost, then nothing.
fn chart() -> Chart {
    let mut points = vec![Point::default(); POINTS];
    for (i, p) in points.iter_mut().enumerate().take(HALF) {
        *p = Point {
            good: 10,
            lost: 0,
            rtt_us: 1000 + i as u32,
        };
    }
    for p in &mut points[HALF..HALF + 10] {
        *p = Point {
            good: 0,
            lost: 10,
            rtt_us: 0,
        };
    }
    Chart { points }
}

/// Half the chart's points.
const HALF: usize = POINTS / 2;

fn page(name: &str) -> Page {
    Page {
        status: status(name),
        charts: vec![vec![vec![chart()], vec![Chart::default()]]],
        events: vec![Event {
            at: 1_800_000_000,
            group: name.into(),
            kind: "member down".into(),
            bad: true,
            text: format!("member '{name}' down: 3 failed checks"),
        }],
        shadow: vec!["G:".into(), "  firewall switched to <B> at 12:00".into()],
        now: 1_800_000_100,
    }
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let html = render(&page(HOSTILE));
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("alert(1)</"), "{html}");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;amp;&lt;img src=x onerror=alert(2)&gt;";
    // Group heading and attribute, expected active, members, target, reason,
    // push answer, hold, problem, firewall URL, event group and text.
    assert!(
        html.matches(escaped).count() >= 12,
        "{}\n{html}",
        html.matches(escaped).count()
    );
    // Nothing that acts: no script, form, input, button, link or handler.
    for bad in ["<form", "<input", "<button", "<a ", "<link", "<iframe"] {
        assert!(!html.to_lowercase().contains(bad), "{bad} in the page");
    }
}

#[test]
fn a_plain_page_shows_groups_members_targets_and_facts() {
    let html = render(&page("HQ_VPN"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
    assert!(html.contains("data-group=\"HQ_VPN\""));
    assert!(html.contains("data-member=\"HQ_VPN\"") && html.contains("data-member=\"B\""));
    assert!(html.contains("data-target=\"PING 127.0.0.2\""));
    // State by word inside a coloured badge.
    assert!(html.contains("<span class=\"st down\">down</span>HQ_VPN"));
    assert!(html.contains("<span class=\"st up\">up</span>member B"));
    assert!(html.contains("not read ([snmp] not set)"));
    assert!(html.contains("Active: refused: HQ_VPN"));
    assert!(html.contains("until 2027-01-15 08:10:00 UTC: HQ_VPN"), "{html}");
    assert!(html.contains("Events, last 24 hours (1)"));
    assert!(html.contains("the firewall API refuses us: HQ_VPN"));
    // No HA line without [ha]; one with it.
    assert!(!html.contains("this host:"));
    let mut p = page("HQ_VPN");
    p.status.ha_role = Some("standby since 2026-12-02 02:00:00 UTC".into());
    p.status.groups[0].carrying = Some("B".into());
    let html = render(&p);
    assert!(html.contains("this host: standby since"));
    assert!(html.contains("<dt>firewall carries</dt><dd>B</dd>"));
}

/// The coordinate pairs of the `class="line"` paths, in page order.
fn lines(html: &str) -> Vec<Vec<(u32, u32)>> {
    html.split("<path class=\"line\" d=\"")
        .skip(1)
        .map(|rest| {
            let d = &rest[..rest.find('"').unwrap()];
            let nums: Vec<u32> = d
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            // "h1" after a lone point adds a 1 that is not a coordinate.
            nums.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
        })
        .collect()
}

#[test]
fn charts_hold_their_points_and_gaps() {
    let html = render(&page("G"));
    let l = lines(&html);
    assert_eq!(l.len(), 4, "RTT and loss for each of two targets");
    // RTT: HALF steps rising to the top at the newest; flat stretches are
    // drawn as their two ends.
    let rtt = &l[0];
    let (half, top) = (HALF as u32, 1000 + HALF as u32 - 1);
    assert_eq!(rtt.first(), Some(&(0, 38 - 1000 * 36 / top)));
    assert_eq!(rtt.last(), Some(&(half - 1, 2)));
    assert!(rtt.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1), "{rtt:?}");
    assert!(rtt.len() < 40, "{rtt:?}");
    // Loss: HALF steps at 0 %, then 10 at 100 % (the top), then a gap.
    assert_eq!(l[1], [(0, 38), (half - 1, 38), (half, 2), (half + 9, 2)]);
    // The empty chart has no points, and says so.
    assert!(l[2].is_empty() && l[3].is_empty());
    assert!(html.contains("loss, last hour: no checks"));
    // Loss over the last 5 minutes: the last WINDOW_POINTS steps hold no
    // check here (the chart ends with HALF - 10 empty steps).
    assert!(html.contains("loss: no checks in the last 5 min"));
}

#[test]
fn window_loss_counts_checks_not_steps() {
    let mut c = Chart {
        points: vec![Point::default(); POINTS],
    };
    c.points[POINTS - 1] = Point {
        good: 3,
        lost: 1,
        rtt_us: 5,
    };
    c.points[POINTS - 2] = Point {
        good: 0,
        lost: 4,
        rtt_us: 0,
    };
    // Outside the window: not counted.
    c.points[POINTS - WINDOW_POINTS - 1] = Point {
        good: 0,
        lost: 100,
        rtt_us: 0,
    };
    assert_eq!(c.window_loss(), Some(5.0 / 8.0));
}

#[test]
fn the_csp_names_the_style_sheet_by_its_hash_and_allows_nothing_else() {
    let csp = csp();
    assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
    for part in ["base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    // The page has exactly one style element, with exactly that text.
    let html = render(&page("G"));
    assert_eq!(html.matches("<style>").count(), 1);
    assert!(html.contains(&format!("<style>{}</style>", html::CSS)));
    assert!(!html.contains(" style="), "a style attribute would be blocked");
}

#[test]
fn base64_matches_known_values() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xff, 0xfe, 0xfd, 0xfc]), "//79/A==");
}

#[test]
fn escaping_leaves_plain_text_alone() {
    assert_eq!(Esc("HQ_Primary 10.0.0.1").to_string(), "HQ_Primary 10.0.0.1");
    assert_eq!(Esc("a&b<c>d\"e'f").to_string(), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    assert_eq!(Esc("ünïcødé & µs").to_string(), "ünïcødé &amp; µs");
}

#[test]
fn a_lone_point_is_a_dash_and_a_flat_run_its_two_ends() {
    let mut points = vec![Point::default(); POINTS];
    let p = Point {
        good: 1,
        lost: 0,
        rtt_us: 500,
    };
    points[1] = p;
    points[3] = p;
    points[4] = p;
    points[5] = p;
    let mut out = String::new();
    chart::rtt(&mut out, &Chart { points });
    assert!(out.contains("class=\"line\" d=\"M1 2h1M3 2 5 2\""), "{out}");
}

#[test]
fn with_snmp_the_firewall_view_is_shown_and_escaped() {
    let mut p = page("G");
    let g = &mut p.status.groups[0];
    g.carrying = Some("B".into());
    g.firewall = Some(crate::view::FirewallGroup {
        carrying: "B".into(),
        disagrees: true,
        not_honoured: Some("DeActive G, accepted 1m ago".into()),
    });
    g.members[0].firewall = Some("active, activated, read 3s <ago>".into());
    g.members[0].firewall_note = Some("the firewall shows the tunnel established, but traffic through it fails".into());
    let html = render(&p);
    assert!(html.contains("<dt>firewall carries</dt><dd>B</dd>"), "{html}");
    assert!(html.contains("DISAGREES with failoverd"));
    assert!(html.contains("DeActive G, accepted 1m ago"));
    assert!(html.contains("on the firewall: active, activated, read 3s &lt;ago&gt;"));
    assert!(html.contains("traffic through it fails"));
}

#[test]
fn the_shadow_report_section_shows_each_line_escaped() {
    let html = super::render(&page("G"));
    let at = html.find("Shadow report, last 7 days").expect("the section");
    let section = &html[at..];
    assert!(
        section.contains("<h3>G:</h3><ul><li>firewall switched to &lt;B&gt; at 12:00</li></ul>"),
        "{section}"
    );
}
