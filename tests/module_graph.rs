//! No import cycle in `src/`: reads every module's `crate::`, `super::` and
//! `self::` paths (outside its `mod tests`), resolves each to the module it
//! names, and fails on any strongly connected group of two or more
//! modules. Edges between a module and its own ancestors or descendants
//! (a `mod.rs` re-exporting a child, a child using its parent's types) are
//! not cycles of concern and are left out; test modules are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(dir: &Path, root: &Path, out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(&path, root, out);
            continue;
        }
        let Some(rel) = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .and_then(|r| r.strip_suffix(".rs"))
        else {
            continue;
        };
        let mut m: Module = rel.split('/').map(str::to_owned).collect();
        if m == ["main"] {
            continue;
        }
        if m == ["lib"] {
            m.clear();
        }
        if m.last().is_some_and(|l| l == "mod") {
            m.pop();
        }
        if m.last().is_some_and(|l| l == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap().to_owned();
        out.insert(m, text);
    }
}

/// The identifiers of one path after its head, with one level of braces
/// split into several paths: `a::{b, c::D}` gives [a, b] and [a, c].
fn paths(rest: &str) -> Vec<Vec<String>> {
    let word = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.is_empty()
    };
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
        .unwrap_or(rest.len());
    let mut head = &rest[..end];
    let mut out = Vec::new();
    let prefix: Vec<String>;
    if let Some(brace) = head.find('{') {
        let close = rest.find('}').unwrap_or(rest.len());
        prefix = rest[..brace]
            .split("::")
            .filter(|s| word(s))
            .map(str::to_owned)
            .collect();
        for item in rest[brace + 1..close].split(',') {
            let mut p = prefix.clone();
            p.extend(item.trim().split("::").filter(|s| word(s)).map(str::to_owned));
            out.push(p);
        }
        return out;
    }
    head = head.trim_end_matches(':');
    out.push(head.split("::").take_while(|s| word(s)).map(str::to_owned).collect());
    out
}

fn resolve(mods: &BTreeMap<Module, String>, path: &[String]) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| mods.contains_key(p))
}

fn edges(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, text) in mods {
        for line in text.lines() {
            let code = line.split("//").next().unwrap();
            for head in ["crate::", "super::", "self::"] {
                for (i, _) in code.match_indices(head) {
                    if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    let mut base: Module = match head {
                        "crate::" => Vec::new(),
                        "self::" => m.clone(),
                        _ => m[..m.len().saturating_sub(1)].to_vec(),
                    };
                    let mut rest = &code[i + head.len()..];
                    while let Some(r) = rest.strip_prefix("super::") {
                        base.pop();
                        rest = r;
                    }
                    for p in paths(rest) {
                        let mut full = base.clone();
                        full.extend(p);
                        let Some(t) = resolve(mods, &full) else { continue };
                        if t.starts_with(m) || m.starts_with(&t) {
                            continue;
                        }
                        out.entry(m.clone()).or_default().insert(t);
                    }
                }
            }
        }
    }
    out
}

/// Modules on a cycle: those that reach themselves again.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<(Module, Vec<Module>)> {
    let mut found = Vec::new();
    for start in edges.keys() {
        // Breadth first, remembering the way back, so the report names a
        // shortest cycle through `start`.
        let mut prev: BTreeMap<Module, Module> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        while let Some(v) = queue.pop_front() {
            for w in edges.get(&v).into_iter().flatten() {
                if w == start {
                    let mut way = vec![v.clone()];
                    while let Some(p) = prev.get(way.last().unwrap()) {
                        way.push(p.clone());
                    }
                    way.reverse();
                    found.push((start.clone(), way));
                    queue.clear();
                    break;
                }
                if !prev.contains_key(w) && w != start {
                    prev.insert(w.clone(), v.clone());
                    queue.push_back(w.clone());
                }
            }
        }
    }
    found
}

fn name(m: &Module) -> String {
    if m.is_empty() { "crate".to_owned() } else { m.join("::") }
}

#[test]
fn no_module_imports_its_way_back_to_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut mods = BTreeMap::new();
    modules(&root, &root, &mut mods);
    assert!(
        mods.len() > 40,
        "found only {} modules under {}",
        mods.len(),
        root.display()
    );
    let e = edges(&mods);
    let bad: Vec<String> = cycles(&e)
        .iter()
        .map(|(s, way)| {
            let steps: Vec<String> = way.iter().map(name).collect();
            format!("{} -> {}", steps.join(" -> "), name(s))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "import cycles in src/ (move the shared items into a module both can import):\n{}",
        bad.join("\n")
    );
}

/// The scanner itself sees a cycle when there is one, and the exemptions
/// (parent and child) do not hide one between siblings.
#[test]
fn the_scanner_sees_a_cycle_between_siblings() {
    let mut mods = BTreeMap::new();
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
    mods.insert(Vec::new(), "pub mod mail;".to_owned());
    mods.insert(m("mail"), "pub mod a; pub mod b;\nuse self::a::X;".to_owned());
    mods.insert(m("mail::a"), "use super::{b::Y, c};\nuse super::X;".to_owned());
    mods.insert(m("mail::b"), "    let z = crate::mail::a::f();".to_owned());
    let e = edges(&mods);
    assert_eq!(e.get(&m("mail::a")), Some(&BTreeSet::from([m("mail::b")])), "{e:?}");
    assert_eq!(e.get(&m("mail::b")), Some(&BTreeSet::from([m("mail::a")])), "{e:?}");
    assert!(
        !e.contains_key(&m("mail")),
        "a parent's use of its child is no cycle: {e:?}"
    );
    let c = cycles(&e);
    assert_eq!(c.len(), 2, "{c:?}");
    mods.insert(m("mail::b"), "// crate::mail::a::f()".to_owned());
    assert!(cycles(&edges(&mods)).is_empty(), "a comment is not an import");
}
