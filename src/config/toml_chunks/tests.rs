use super::*;

/// The one-go parse, printed with every span.
fn whole(text: &str) -> String {
    let (doc, errors) = DeTable::parse_recoverable(text);
    let errors: Vec<String> = errors
        .iter()
        .map(|e| format!("{:?} {}", e.span(), e.message()))
        .collect();
    format!("{doc:?}\n{errors:?}")
}

fn chunked(text: &str) -> (String, bool) {
    let mut rest = String::new();
    let (doc, errors) = parse_with(text, &mut rest, 1);
    let errors: Vec<String> = errors
        .iter()
        .map(|e| format!("{:?} {}", e.span(), e.message()))
        .collect();
    let mut rest2 = String::new();
    let secs = sections(text);
    rest2.push_str(&blanked(text, &secs));
    let took = !secs.is_empty() && assemble(text, &rest2, &secs).is_some();
    (format!("{doc:?}\n{errors:?}"), took)
}

const DOC: &str = "# top \u{e9}\ngroups = [\"g.xml\"]\nstate_dir = \"s\"\n\n[probe]\ninterval = \"1s\"\n\
[connections.B]\ntargets = [\n  \"192.0.2.1\", # one\n  [\"x\"],\n]\nvia = \"tunnel\"\n\n\
  [connections.A]   # \u{e9}t\u{e9}\ntargets = [\"h.example\"]\nq = { a = 1, b = [2, 3] }\n\
s = \"\"\"\n[connections.Z]\n\"\"\"\n[firewall]\nurl = \"https://x\"\n[connections.C-1_x]\nfall = 3\n\
[[hooks]]\ncommand = [\"a\"]\n[[hooks]]\ncommand = [\"b\"]\n[guard]\nanchors = []\n[connections.D]\nt = 1.5\nd = 1979-05-27";

#[test]
fn the_sections_parsed_alone_give_the_one_go_document_spans_and_order_included() {
    let (doc, took) = chunked(DOC);
    assert!(took, "the sections were parsed alone");
    assert_eq!(doc, whole(DOC));
    let names: Vec<&str> = sections(DOC).iter().map(|(_, n)| &DOC[n.clone()]).collect();
    assert_eq!(names, ["B", "A", "C-1_x", "D"], "not the one inside the string");
    let crlf = DOC.replace('\n', "\r\n");
    assert_eq!(chunked(&crlf), (whole(&crlf), true));
    let dotted = "[connections.A]\nb.c = 1\n[connections.B]\nc = 2\n";
    assert_eq!(chunked(dotted), (whole(dotted), true), "a dotted key in a section");
}

#[test]
fn whatever_could_differ_is_parsed_in_one_go() {
    for (why, text) in [
        ("a name twice", "[connections.A]\nx = 1\n[connections.A]\ny = 2\n"),
        (
            "connections elsewhere",
            "connections.B = { x = 1 }\n[connections.A]\nx = 1\n",
        ),
        (
            "a [connections] table",
            "[connections]\nB = {}\n[connections.A]\nx = 1\n",
        ),
        ("a sub-table", "[connections.A]\nx = 1\n[connections.A.b]\ny = 2\n"),
        (
            "a syntax error in a section",
            "[connections.A]\nx = \n[connections.B]\ny = 2\n",
        ),
        ("a syntax error elsewhere", "[probe\n[connections.A]\nx = 1\n"),
        (
            "an array of tables",
            "[[connections.A]]\nx = 1\n[connections.B]\nx = 2\n",
        ),
        ("a quoted name", "[connections.\"A\"]\nx = 1\n[connections.A]\nx = 2\n"),
    ] {
        let (doc, _) = chunked(text);
        assert_eq!(doc, whole(text), "{why}");
    }
    assert!(!chunked("[connections.A]\nx = 1\n[connections.A]\ny = 2\n").1);
}
